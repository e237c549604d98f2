import { randomBytes } from 'node:crypto';
import { NatsClient, decodeJson, encodeJson } from './nats-client';
import { NoRespondersError, RequestTimeoutError } from './nats.errors';
import { NatsServerProcess, eventually } from './testing';

const NATS_URL = process.env['NATS_URL'] ?? 'nats://127.0.0.1:4222';

describe('NatsClient requests and the per-turn outbox (against the machine NATS)', () => {
  const prefix = `natsclient_${randomBytes(4).toString('hex')}`;
  let requester: NatsClient;
  let responder: NatsClient;

  beforeAll(async () => {
    requester = await NatsClient.connect({ url: NATS_URL, name: 'nats-client-spec-requester' });
    responder = await NatsClient.connect({ url: NATS_URL, name: 'nats-client-spec-responder' });
  });

  afterAll(async () => {
    await requester.close();
    await responder.close();
  });

  it('matches every reply to its request when many leave in the same turn', async () => {
    const subject = `${prefix}.echo`;
    const subscription = responder.subscribe(subject, (msg) => {
      const { n } = decodeJson(msg.data) as { n: number };
      // Out of order on purpose: odd ones answer a little later.
      setTimeout(() => responder.respond(msg, encodeJson({ doubled: n * 2 })), n % 2);
    });
    await responder.connection.flush();
    const replies = await Promise.all(
      Array.from({ length: 200 }, (_, n) =>
        requester.request(subject, encodeJson({ n }), { timeoutMs: 5_000 }).then((msg) => decodeJson(msg.data)),
      ),
    );
    expect(replies).toEqual(Array.from({ length: 200 }, (_, n) => ({ doubled: n * 2 })));
    subscription.unsubscribe();
  });

  it('fails at once with NoRespondersError when nobody subscribes', async () => {
    const started = Date.now();
    await expect(requester.request(`${prefix}.nobody`, encodeJson({}), { timeoutMs: 5_000 })).rejects.toBeInstanceOf(
      NoRespondersError,
    );
    expect(Date.now() - started).toBeLessThan(4_000);
  });

  it('fails with RequestTimeoutError when the reply does not come in time, and ignores it when it comes late', async () => {
    const subject = `${prefix}.slow`;
    const subscription = responder.subscribe(subject, (msg) => {
      setTimeout(() => responder.respond(msg, encodeJson({ late: true })), 300);
    });
    await responder.connection.flush();
    const failure = await requester.request(subject, encodeJson({}), { timeoutMs: 100 }).catch((error) => error);
    expect(failure).toBeInstanceOf(RequestTimeoutError);
    expect((failure as RequestTimeoutError).subject).toBe(subject);
    // The late reply arrives to nobody; the next request still works.
    await new Promise((resolve) => setTimeout(resolve, 400));
    const next = await requester.request(subject, encodeJson({}), { timeoutMs: 2_000 });
    expect(decodeJson(next.data)).toEqual({ late: true });
    subscription.unsubscribe();
  });

  it('sends publishes and requests in the order they were given', async () => {
    const seen: string[] = [];
    const subscription = responder.subscribe(`${prefix}.order.*`, (msg) => {
      seen.push(msg.subject.slice(msg.subject.lastIndexOf('.') + 1));
      responder.respond(msg, encodeJson({}));
    });
    await responder.connection.flush();
    requester.publishJson(`${prefix}.order.a`, {});
    const request = requester.request(`${prefix}.order.b`, encodeJson({}), { timeoutMs: 2_000 });
    requester.publishJson(`${prefix}.order.c`, {});
    await request;
    await requester.connection.flush();
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(seen).toEqual(['a', 'b', 'c']);
    subscription.unsubscribe();
  });

  it('requestManyJson gathers replies until the predicate says done, well before maxWait', async () => {
    const subject = `${prefix}.many`;
    const subscriptions = ['a', 'b', 'c'].map((member) =>
      responder.subscribe(subject, (msg) => responder.respond(msg, encodeJson({ member }))),
    );
    await responder.connection.flush();
    const started = Date.now();
    const replies = await requester.requestManyJson(
      subject,
      {},
      { maxWaitMs: 10_000, until: (gathered) => gathered.length === 3 },
    );
    expect(Date.now() - started).toBeLessThan(5_000);
    expect((replies as { member: string }[]).map((reply) => reply.member).sort()).toEqual(['a', 'b', 'c']);
    for (const subscription of subscriptions) subscription.unsubscribe();
  });

  it('requestManyJson returns what came by maxWait when the predicate is never satisfied', async () => {
    const subject = `${prefix}.many-partial`;
    const subscription = responder.subscribe(subject, (msg) => responder.respond(msg, encodeJson({ member: 'a' })));
    await responder.connection.flush();
    const started = Date.now();
    const replies = await requester.requestManyJson(
      subject,
      {},
      { maxWaitMs: 300, until: (gathered) => gathered.length === 2 },
    );
    expect(Date.now() - started).toBeGreaterThanOrEqual(290);
    expect(replies).toEqual([{ member: 'a' }]);
    subscription.unsubscribe();
  });

  it('requestManyJson stops after replies stall, and gives none at once when nobody listens', async () => {
    const subject = `${prefix}.many-stall`;
    const subscription = responder.subscribe(subject, (msg) => responder.respond(msg, encodeJson({ member: 'a' })));
    await responder.connection.flush();
    const started = Date.now();
    expect(await requester.requestManyJson(subject, {}, { maxWaitMs: 10_000, stallMs: 100 })).toEqual([
      { member: 'a' },
    ]);
    expect(await requester.requestManyJson(`${prefix}.many-nobody`, {}, { maxWaitMs: 10_000 })).toEqual([]);
    expect(Date.now() - started).toBeLessThan(5_000);
    subscription.unsubscribe();
  });

  it('sends what is queued when it closes, and fails the requests still waiting', async () => {
    const client = await NatsClient.connect({ url: NATS_URL, name: 'nats-client-spec-closing' });
    const received: unknown[] = [];
    const subscription = responder.subscribe(`${prefix}.closing`, (msg) => {
      received.push(decodeJson(msg.data));
    });
    const silent = responder.subscribe(`${prefix}.silent`, () => undefined);
    await responder.connection.flush();
    const waiting = client.request(`${prefix}.silent`, encodeJson({}), { timeoutMs: 10_000 });
    // Let the request leave, then queue a publish and close in the same turn.
    await new Promise((resolve) => setImmediate(resolve));
    client.publishJson(`${prefix}.closing`, { last: true });
    await client.close();
    await expect(waiting).rejects.toThrow('NATS connection closed');
    await new Promise((resolve) => setTimeout(resolve, 100));
    expect(received).toEqual([{ last: true }]);
    subscription.unsubscribe();
    silent.unsubscribe();
  });
});

describe('NatsClient across a restart of its server (a private nats-server)', () => {
  let server: NatsServerProcess;
  let client: NatsClient;

  beforeAll(async () => {
    server = await NatsServerProcess.start();
    client = await NatsClient.connect({ url: server.url, name: 'nats-client-spec-restart' });
  });

  afterAll(async () => {
    await client?.close();
    await server?.stop();
  });

  it('holds what is sent while the connection is down and sends it after the reconnect', async () => {
    const received: unknown[] = [];
    const subscription = client.subscribe('restart.events', (msg) => {
      received.push(decodeJson(msg.data));
    });
    const responder = client.subscribe('restart.echo', (msg) => client.respond(msg, msg.data));
    await client.connection.flush();

    await server.kill('SIGKILL');
    await eventually(() => !client.isConnected(), 5_000, 'the client to see its server gone');
    // nats.js would drop these when it reconnects.
    client.publishJson('restart.events', { while: 'down' });
    const reply = client.request('restart.echo', encodeJson({ asked: 'while down' }), { timeoutMs: 10_000 });
    await server.restart();

    expect(decodeJson((await reply).data)).toEqual({ asked: 'while down' });
    await eventually(() => received.length === 1, 5_000, 'the publish made while down');
    expect(received).toEqual([{ while: 'down' }]);
    subscription.unsubscribe();
    responder.unsubscribe();
  });
});
