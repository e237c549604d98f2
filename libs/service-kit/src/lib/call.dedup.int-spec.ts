import 'reflect-metadata';
import { Inject, Injectable, Module, type INestApplication } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { randomBytes, randomUUID } from 'node:crypto';
import { z } from 'zod';
import { CallReplySchema, fabricSubjects, type CallReply, type CallRequest } from '@fabric/contracts';
import { loadConfig } from '@fabric/platform-config';
import { NatsClient } from '@fabric/platform-nats';
import type { CallContext } from './call-context';
import { McpTool } from './decorators';
import { FabricServer } from './fabric.server';
import { serviceEnvSchema } from './kit.config';
import { ServiceKitModule } from './service-kit.module';
import { eventually } from '@fabric/platform-nats/testing';

// Replicas of a service in-process on the machine's NATS, sharing the idempotency bucket of their namespace.
const NATS_URL = process.env['NATS_URL'] ?? 'nats://127.0.0.1:4222';
const namespace = `d${randomBytes(6).toString('hex')}`;
const subjects = fabricSubjects(namespace);

/** What one replica's handlers did, and the gates the test opens. */
class Runs {
  readonly started = new Set<string>();
  readonly gates = new Map<string, () => void>();
  count = 0;
}

const RUNS = Symbol('RUNS');
const MARKER = Symbol('MARKER');

@Injectable()
class CounterTools {
  constructor(
    @Inject(RUNS) private readonly runs: Runs,
    @Inject(MARKER) private readonly marker: string,
  ) {}

  @McpTool({
    name: 'count',
    description: 'Counts one run; with `hold`, waits until the test opens its gate (or the call is stopped)',
    input: z.object({ tag: z.string(), hold: z.boolean().optional() }),
    annotations: { readOnlyHint: false, idempotentHint: false },
  })
  async count(args: { tag: string; hold?: boolean }, ctx: CallContext): Promise<string> {
    const run = ++this.runs.count;
    this.runs.started.add(args.tag);
    if (args.hold) {
      await new Promise<void>((resolve) => {
        this.runs.gates.set(args.tag, resolve);
        ctx.signal.addEventListener('abort', () => resolve(), { once: true });
      });
    }
    return `${this.marker} run ${run}`;
  }

  @McpTool({
    name: 'overrun',
    description: 'Ignores its deadline until the test opens its gate',
    input: z.object({ tag: z.string() }),
  })
  async overrun(args: { tag: string }): Promise<string> {
    this.runs.count++;
    this.runs.started.add(args.tag);
    await new Promise<void>((resolve) => this.runs.gates.set(args.tag, resolve));
    return 'finished late';
  }

  @McpTool({ name: 'explode', description: 'Throws an unexpected error', input: z.object({}) })
  explode(): never {
    this.runs.count++;
    throw new Error('secret detail');
  }
}

interface Replica {
  app: INestApplication;
  runs: Runs;
  server: FabricServer;
}

const apps = new Set<INestApplication>();

async function startReplica(service: string): Promise<Replica> {
  const runs = new Runs();
  const instanceId = `${service}-${randomBytes(3).toString('hex')}`;
  @Module({ providers: [CounterTools, { provide: RUNS, useValue: runs }, { provide: MARKER, useValue: instanceId }] })
  class TestModule {}
  const env = loadConfig(serviceEnvSchema, {
    NATS_URL,
    FABRIC_NAMESPACE: namespace,
    LOG_LEVEL: 'silent',
    HEARTBEAT_MS: '60000',
    SHUTDOWN_GRACE_MS: '1000',
    INSTANCE_ID: instanceId,
  });
  const app = await NestFactory.create(ServiceKitModule.forRoot(TestModule, { service, version: '1.0.0' }, env), {
    logger: false,
  });
  apps.add(app);
  await app.init();
  const server = app.get(FabricServer);
  app.connectMicroservice({ strategy: server });
  await app.startAllMicroservices();
  await app.listen(0);
  await app.get(NatsClient).connection.flush();
  return { app, runs, server };
}

/** Polls until `check` holds, failing after `timeoutMs`. */
const until = (what: string, check: () => boolean | Promise<boolean>, timeoutMs = 5_000) =>
  eventually(check, timeoutMs, what);

describe('calls with an idempotency key, on two replicas sharing the bucket', () => {
  let client: NatsClient;
  let a: Replica;
  let b: Replica;
  const both = () => [a, b];
  const totalRuns = () => a.runs.count + b.runs.count;

  /** A call of `tool`; every attempt of the same call shares `key` but has its own id. */
  const attempt = (tool: string, args: Record<string, unknown>, key: string | undefined, ttlMs = 10_000) =>
    ({
      id: randomUUID(),
      operation: 'tools.call',
      name: tool,
      arguments: args,
      deadline: Date.now() + ttlMs,
      ...(key ? { idempotencyKey: key } : {}),
    }) satisfies CallRequest;

  async function send(request: CallRequest, service = 'dedup'): Promise<CallReply> {
    const reply = await client.requestJson(subjects.request(service, 'tools.call'), request, { timeoutMs: 15_000 });
    return CallReplySchema.parse(reply) as CallReply;
  }

  const newKey = () => randomBytes(32).toString('hex');

  beforeAll(async () => {
    client = await NatsClient.connect({ url: NATS_URL, name: 'call-dedup-int-spec' });
    a = await startReplica('dedup');
    b = await startReplica('dedup');
  });

  afterAll(async () => {
    for (const replica of [a, b]) for (const open of replica?.runs.gates.values() ?? []) open();
    for (const app of apps) await app.close();
    const manager = await client.connection.jetstreamManager();
    await manager.streams.delete(`KV_${namespace}_idempotency`).catch(() => undefined);
    await client?.close();
  });

  it('calls without a key run every time they arrive', async () => {
    const before = totalRuns();
    await send(attempt('count', { tag: 'plain' }, undefined));
    await send(attempt('count', { tag: 'plain' }, undefined));
    expect(totalRuns()).toBe(before + 2);
  });

  it('repeats arriving while the call runs, on its replica and on the other, run nothing and get its reply', async () => {
    const key = newKey();
    const before = totalRuns();
    const first = send(attempt('count', { tag: 'concurrent', hold: true }, key));
    await until('the first attempt to start', () => both().some((replica) => replica.runs.started.has('concurrent')));
    const owner = both().find((replica) => replica.runs.started.has('concurrent'))!;
    const other = owner === a ? b : a;
    // The queue group picks the replica: send repeats until the other replica holds one (each lands somewhere).
    const repeats: Promise<CallReply>[] = [];
    while (other.server.inFlightCount === 0) {
      const held = a.server.inFlightCount + b.server.inFlightCount;
      repeats.push(send(attempt('count', { tag: 'concurrent', hold: true }, key)));
      await until('the repeat to be held', () => a.server.inFlightCount + b.server.inFlightCount > held);
      if (repeats.length > 30) throw new Error('no repeat reached the other replica');
    }
    owner.runs.gates.get('concurrent')!();
    const replies = await Promise.all([first, ...repeats]);
    expect(new Set(replies.map((reply) => JSON.stringify(reply))).size).toBe(1);
    expect(replies[0]).toMatchObject({ ok: true });
    expect(totalRuns()).toBe(before + 1);
  });

  it('a repeat after the call finished gets the stored reply on every replica, and nothing runs again', async () => {
    const key = newKey();
    const first = await send(attempt('count', { tag: 'finished' }, key));
    const runs = totalRuns();
    const repeats = await Promise.all(
      Array.from({ length: 8 }, () => send(attempt('count', { tag: 'finished' }, key))),
    );
    expect(repeats).toEqual(Array.from({ length: 8 }, () => first));
    expect(totalRuns()).toBe(runs);
  });

  it('a failure is an outcome too: the repeat of an internal error gets the same reference, not a second run', async () => {
    const key = newKey();
    const first = await send(attempt('explode', {}, key));
    expect(first).toMatchObject({ ok: false, error: { code: 'INTERNAL', ref: expect.any(String) } });
    const runs = totalRuns();
    expect(await send(attempt('explode', {}, key))).toEqual(first);
    expect(totalRuns()).toBe(runs);
  });

  it('a key reused for a different call is refused as a conflict and runs nothing', async () => {
    const key = newKey();
    await send(attempt('count', { tag: 'original' }, key));
    const runs = totalRuns();
    const reply = await send(attempt('count', { tag: 'something else' }, key));
    expect(reply).toMatchObject({ ok: false, error: { code: 'CONFLICT', retryable: false } });
    expect(totalRuns()).toBe(runs);
  });

  it('a call that overran its deadline without an outcome: every repeat hears "outcome unknown", none runs it', async () => {
    const key = newKey();
    const first = await send(attempt('overrun', { tag: 'overrun' }, key, 200));
    expect(first).toMatchObject({ ok: false, error: { code: 'TIMEOUT' } });
    const runs = totalRuns();
    // Sent at once and from both replicas' side: on the owner they share the running handler, elsewhere
    // they read its claim; both give up a moment after the first attempt's deadline.
    const repeats = await Promise.all(
      Array.from({ length: 6 }, () => send(attempt('overrun', { tag: 'overrun' }, key))),
    );
    for (const reply of repeats) {
      expect(reply).toMatchObject({
        ok: false,
        error: { code: 'UNAVAILABLE', message: expect.stringMatching(/outcome is unknown/) },
      });
    }
    expect(totalRuns()).toBe(runs);
    both().forEach((replica) => replica.runs.gates.get('overrun')?.());
  });

  it('a repeat of a call whose replica died hears "outcome unknown" within about a second, and nothing runs again', async () => {
    // A service of its own, so that the first attempt can only land on the replica that will die.
    const doomed = await startReplica('lone');
    const key = newKey();
    const first = send(attempt('count', { tag: 'doomed', hold: true }, key), 'lone').catch((error: unknown) => error);
    await until('the first attempt to start', () => doomed.runs.started.has('doomed'));
    const survivor = await startReplica('lone');
    // Gone from NATS at once, as a killed process is: its probe subject has no responders any more.
    await doomed.app.get(NatsClient).connection.close();
    const started = Date.now();
    const reply = await send(attempt('count', { tag: 'doomed', hold: true }, key), 'lone');
    expect(reply).toMatchObject({
      ok: false,
      error: { code: 'UNAVAILABLE', message: expect.stringMatching(/replica running it stopped.*outcome is unknown/) },
    });
    expect(Date.now() - started).toBeLessThan(3_000); // long before the first attempt's 10 s deadline
    expect(survivor.runs.count).toBe(0);
    doomed.runs.gates.get('doomed')!();
    void first; // never answered: its replica left NATS
  });
});
