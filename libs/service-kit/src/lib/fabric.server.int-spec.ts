import 'reflect-metadata';
import { Inject, Injectable, Module, type INestApplication } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { randomBytes, randomUUID } from 'node:crypto';
import { z } from 'zod';
import {
  AnnouncementSchema,
  CallInterruptedError,
  CallEventSchema,
  CallReplySchema,
  CancelledError,
  ClientRequestSchema,
  DeadlineExceededError,
  GoodbyeSchema,
  PROBE_MAX_IDS,
  ResourceUpdatedSchema,
  fabricSubjects,
  type Announcement,
  type CallEvent,
  type CallReply,
  type CallRequest,
  type ClientRequest,
  type Goodbye,
  type ResourceUpdated,
} from '@fabric/contracts';
import { loadConfig } from '@fabric/platform-config';
import { NatsClient, NoRespondersError, decodeJson, encodeJson } from '@fabric/platform-nats';
import type { CallContext } from './call-context';
import { McpTool } from './decorators';
import { FabricServer } from './fabric.server';
import { serviceEnvSchema } from './kit.config';
import { ResourceNotifier } from './resource.notifier';
import { samplingText } from './results';
import { ServiceKitModule } from './service-kit.module';
import { eventuallyValue } from '@fabric/platform-nats/testing';

// The kit on the machine's real NATS; a namespace of its own so no other run hears these subjects.
const NATS_URL = process.env['NATS_URL'] ?? 'nats://127.0.0.1:4222';
const namespace = `t${randomBytes(6).toString('hex')}`;
const subjects = fabricSubjects(namespace);

/** What one app's handlers saw, for the test to observe (and the gates the test opens). */
class Probe {
  readonly started = new Set<string>();
  readonly aborted = new Map<string, unknown>();
  readonly held = new Map<string, () => void>();
  /** What a handler's `sample` or `elicit` rejected with, and when. */
  readonly askFailed = new Map<string, { error: unknown; at: number }>();
  served = 0;
}

const PROBE = Symbol('PROBE');
const MARKER = Symbol('MARKER');

@Injectable()
class KitTestTools {
  constructor(
    @Inject(PROBE) private readonly probe: Probe,
    @Inject(MARKER) private readonly marker: string,
    @Inject(ResourceNotifier) private readonly resources: ResourceNotifier,
  ) {}

  @McpTool({ name: 'echo', description: 'Returns its text', input: z.object({ text: z.string() }) })
  echo(args: { text: string }): string {
    return args.text;
  }

  @McpTool({ name: 'whoami', description: 'Names the app instance that served the call', input: z.object({}) })
  whoami(): string {
    this.probe.served++;
    return this.marker;
  }

  @McpTool({ name: 'wait_for_abort', description: 'Runs until its signal fires', input: z.object({}) })
  async waitForAbort(_args: object, ctx: CallContext): Promise<string> {
    this.probe.started.add(ctx.callId);
    await new Promise<void>((resolve) => ctx.signal.addEventListener('abort', () => resolve(), { once: true }));
    this.probe.aborted.set(ctx.callId, ctx.signal.reason);
    return 'stopped';
  }

  @McpTool({ name: 'hold', description: 'Runs until the test releases it', input: z.object({}) })
  async hold(_args: object, ctx: CallContext): Promise<string> {
    await new Promise<void>((resolve) => {
      this.probe.held.set(ctx.callId, resolve);
      this.probe.started.add(ctx.callId);
    });
    return 'released';
  }

  @McpTool({ name: 'explode', description: 'Throws an unexpected error', input: z.object({}) })
  explode(): never {
    throw new Error('password=hunter2 at /srv/orders/secret.ts:42');
  }

  @McpTool({
    name: 'converse',
    description: 'Reports progress, logs, asks the model and then the user',
    input: z.object({}),
  })
  async converse(_args: object, ctx: CallContext): Promise<string> {
    this.probe.started.add(ctx.callId);
    try {
      ctx.progress(1, 3, 'asking the model');
      ctx.log('debug', 'below a warning-level client');
      ctx.log('warning', { asking: 'model' }, 'converse');
      const answer = await ctx.sample({
        messages: [{ role: 'user', content: { type: 'text', text: 'Say hi' } }],
        maxTokens: 10,
      });
      ctx.progress(2, 3, 'asking the user');
      const user = await ctx.elicit({
        message: 'Your name?',
        requestedSchema: { type: 'object', properties: { name: { type: 'string' } }, required: ['name'] },
      });
      ctx.progress(3, 3);
      return `model: ${samplingText(answer)}; user: ${user.action} ${JSON.stringify(user.content ?? {})}`;
    } catch (error) {
      this.probe.askFailed.set(ctx.callId, { error, at: Date.now() });
      throw error;
    }
  }

  @McpTool({ name: 'touch', description: 'Reports a resource as changed', input: z.object({ uri: z.string() }) })
  touch(args: { uri: string }): string {
    this.resources.updated(args.uri);
    return 'touched';
  }
}

type Heard = CallEvent | ClientRequest | { type: 'reply'; reply: CallReply };

/**
 * Plays the gateway replica holding the client's request: records what the call sends to its events
 * subject and answers its client requests with `answers` (a method without an answer gets none).
 */
function fakeGateway(client: NatsClient, callId: string, answers: Partial<Record<ClientRequest['method'], CallReply>>) {
  const events = subjects.callEvents('int-spec-gateway', callId);
  const heard: Heard[] = [];
  const subscription = client.subscribe(events, (msg) => {
    const value = decodeJson(msg.data);
    const request = ClientRequestSchema.safeParse(value);
    if (!request.success) {
      heard.push(CallEventSchema.parse(value));
      return;
    }
    heard.push(request.data);
    const answer = answers[request.data.method];
    if (answer) msg.respond(encodeJson(answer));
  });
  return { events, heard, close: () => subscription.unsubscribe() };
}

const modelAnswer: CallReply = {
  ok: true,
  result: { role: 'assistant', model: 'm1', content: { type: 'text', text: 'hi there' } },
};
const userAnswer: CallReply = { ok: true, result: { action: 'accept', content: { name: 'Ada' } } };

interface RunningApp {
  app: INestApplication;
  probe: Probe;
  instanceId: string;
}

const running = new Set<INestApplication>();

/** Starts a service app in-process the way `bootstrapService` does, on NATS and a random HTTP port. */
async function startApp(
  service: string,
  instanceId: string,
  extraEnv: Record<string, string> = {},
): Promise<RunningApp> {
  const probe = new Probe();
  @Module({ providers: [KitTestTools, { provide: PROBE, useValue: probe }, { provide: MARKER, useValue: instanceId }] })
  class TestModule {}
  const env = loadConfig(serviceEnvSchema, {
    NATS_URL,
    FABRIC_NAMESPACE: namespace,
    LOG_LEVEL: 'silent',
    // Long enough that every announcement a test sees is the start announcement, not a heartbeat.
    HEARTBEAT_MS: '60000',
    SHUTDOWN_GRACE_MS: '3000',
    INSTANCE_ID: instanceId,
    ...extraEnv,
  });
  const app = await NestFactory.create(ServiceKitModule.forRoot(TestModule, { service, version: '1.0.0' }, env), {
    logger: false,
  });
  running.add(app);
  await app.init();
  app.connectMicroservice({ strategy: app.get(FabricServer) });
  await app.startAllMicroservices();
  await app.listen(0);
  // The server has processed this app's subscriptions once its connection is flushed.
  await app.get(NatsClient).connection.flush();
  // The id it announces: INSTANCE_ID and a nonce of its own.
  return { app, probe, instanceId: app.get(FabricServer).instanceId };
}

async function closeApp(app: INestApplication): Promise<void> {
  running.delete(app);
  await app.close();
}

/** Polls `probe` until it returns a value, failing after `timeoutMs`. */
const waitFor = <T>(what: string, probe: () => T | undefined, timeoutMs = 2_000): Promise<T> =>
  eventuallyValue(probe, timeoutMs, what);

function toolCall(name: string, overrides: Partial<CallRequest> = {}): CallRequest {
  return { id: randomUUID(), operation: 'tools.call', name, arguments: {}, deadline: Date.now() + 1_000, ...overrides };
}

describe('FabricServer on NATS', () => {
  let client: NatsClient;
  let kit: RunningApp;
  const announcements: Announcement[] = [];
  const goodbyes: Goodbye[] = [];

  async function call(service: string, request: CallRequest, timeoutMs = 2_000): Promise<CallReply> {
    const reply = await client.requestJson(subjects.request(service, 'tools.call'), request, { timeoutMs });
    return CallReplySchema.parse(reply) as CallReply;
  }

  beforeAll(async () => {
    client = await NatsClient.connect({ url: NATS_URL, name: 'fabric-server-int-spec' });
    client.subscribe(subjects.announce, (msg) => {
      announcements.push(AnnouncementSchema.parse(decodeJson(msg.data)));
    });
    client.subscribe(subjects.goodbye, (msg) => {
      goodbyes.push(GoodbyeSchema.parse(decodeJson(msg.data)));
    });
    await client.connection.flush();
    kit = await startApp('kit', `kit-${randomBytes(3).toString('hex')}`);
  });

  afterAll(async () => {
    for (const app of [...running]) await closeApp(app);
    await client?.close();
  });

  it('answers a tool call with { ok: true, result, revision, instance }: its manifest revision and its instance id', async () => {
    const reply = await call('kit', toolCall('echo', { arguments: { text: 'hello fabric' } }));
    const announcement = await waitFor('an announcement', () =>
      announcements.find((candidate) => candidate.manifest.service === 'kit'),
    );
    expect(announcement.manifest.revision).toEqual(expect.any(String));
    expect(reply).toEqual({
      ok: true,
      result: { content: [{ type: 'text', text: 'hello fabric' }] },
      revision: announcement.manifest.revision,
      instance: announcement.instanceId,
    });
  });

  it('announces its manifest as ready when it starts', async () => {
    const announcement = await waitFor('the start announcement', () =>
      announcements.find((a) => a.instanceId === kit.instanceId),
    );
    expect(announcement.state).toBe('ready');
    expect(announcement.manifest.service).toBe('kit');
    expect(announcement.manifest.tools.map((tool) => tool.name).sort()).toEqual([
      'converse',
      'echo',
      'explode',
      'hold',
      'touch',
      'wait_for_abort',
      'whoami',
    ]);
  });

  it('answers hello with its announcement and manifest', async () => {
    const replies = await client.requestManyJson(
      subjects.hello,
      { gatewayId: 'int-spec' },
      { maxWaitMs: 1_000, stallMs: 200 },
    );
    const mine = replies.map((reply) => AnnouncementSchema.parse(reply)).find((a) => a.instanceId === kit.instanceId);
    expect(mine).toMatchObject({ state: 'ready', heartbeatMs: 60_000, manifest: { service: 'kit', version: '1.0.0' } });
    expect(mine!.manifest.tools.find((tool) => tool.name === 'echo')!.inputSchema).toMatchObject({
      required: ['text'],
    });
  });

  it('replies TIMEOUT when the deadline passes and fires the handler signal', async () => {
    const request = toolCall('wait_for_abort', { deadline: Date.now() + 200 });
    const reply = await call('kit', request);
    expect(reply).toMatchObject({ ok: false, error: { code: 'TIMEOUT', retryable: true } });
    const reason = await waitFor('the handler to see its abort', () => kit.probe.aborted.get(request.id));
    expect(reason).toBeInstanceOf(DeadlineExceededError);
  });

  it('aborts the running handler when a cancel for its call arrives on the cancel subject', async () => {
    const request = toolCall('wait_for_abort', { deadline: Date.now() + 1_500 });
    const pending = call('kit', request);
    await waitFor('the handler to start', () => kit.probe.started.has(request.id));
    client.publishJson(subjects.cancel('kit'), { id: request.id, reason: 'the user pressed stop' });
    const reply = await pending;
    expect(reply).toEqual({
      ok: false,
      error: { code: 'CANCELLED', message: 'the user pressed stop', retryable: false },
    });
    expect(kit.probe.aborted.get(request.id)).toBeInstanceOf(CancelledError);
  });

  it('answers a probe with the probed calls it holds, and one it cannot read with an error, never "none held"', async () => {
    const request = toolCall('hold', { deadline: Date.now() + 2_000 });
    const pending = call('kit', request, 3_000);
    await waitFor('the handler to start', () => kit.probe.started.has(request.id));
    const probe = (ids: string[]) =>
      client.requestJson(subjects.probe('kit', kit.instanceId), { ids }, { timeoutMs: 1_000 });
    expect(await probe([request.id, 'not-a-call-here'])).toEqual({ held: [request.id] });
    const tooMany = [request.id, ...Array.from({ length: PROBE_MAX_IDS }, (_, i) => `other-${i}`)];
    expect(await probe(tooMany)).toMatchObject({ ok: false, error: { code: 'INVALID_ARGUMENT' } });
    kit.probe.held.get(request.id)!();
    expect(await pending).toMatchObject({ ok: true });
  });

  it('turns an unexpected Error into INTERNAL with a ref, and its message stays out of the reply', async () => {
    const reply = await call('kit', toolCall('explode'));
    expect(reply).toMatchObject({ ok: false, error: { code: 'INTERNAL', retryable: false, ref: expect.any(String) } });
    expect(JSON.stringify(reply)).not.toContain('hunter2');
    expect(JSON.stringify(reply)).not.toContain('secret.ts');
  });

  describe('a call talking to its client through the events subject', () => {
    async function converse(
      overrides: Partial<CallRequest>,
      answers = { 'sampling/createMessage': modelAnswer, 'elicitation/create': userAnswer },
    ) {
      const request = toolCall('converse', { deadline: Date.now() + 5_000, ...overrides });
      const gateway = fakeGateway(client, request.id, answers);
      // The reply is recorded by a subscription callback like the events, so the timeline is the order of arrival.
      const inbox = `${namespace}.inbox.${request.id}`;
      let replied!: () => void;
      const done = new Promise<void>((resolve) => (replied = resolve));
      const replies = client.subscribe(inbox, (msg) => {
        gateway.heard.push({ type: 'reply', reply: CallReplySchema.parse(decodeJson(msg.data)) as CallReply });
        replied();
      });
      await client.connection.flush();
      try {
        client.connection.publish(
          subjects.request('kit', 'tools.call'),
          encodeJson({ ...request, events: gateway.events }),
          { reply: inbox },
        );
        await done;
        return gateway.heard;
      } finally {
        replies.unsubscribe();
        gateway.close();
      }
    }

    it('publishes progress and logs and sends its client requests in call order, all ahead of its reply', async () => {
      const heard = await converse({ progressToken: 'p1' });
      expect(heard).toEqual([
        { type: 'progress', progress: 1, total: 3, message: 'asking the model' },
        { type: 'log', level: 'debug', data: 'below a warning-level client' },
        { type: 'log', level: 'warning', logger: 'converse', data: { asking: 'model' } },
        {
          type: 'request',
          method: 'sampling/createMessage',
          params: { messages: [{ role: 'user', content: { type: 'text', text: 'Say hi' } }], maxTokens: 10 },
          deadline: expect.any(Number),
        },
        { type: 'progress', progress: 2, total: 3, message: 'asking the user' },
        {
          type: 'request',
          method: 'elicitation/create',
          params: {
            message: 'Your name?',
            requestedSchema: { type: 'object', properties: { name: { type: 'string' } }, required: ['name'] },
          },
          deadline: expect.any(Number),
        },
        { type: 'progress', progress: 3, total: 3 },
        {
          type: 'reply',
          reply: {
            ok: true,
            result: { content: [{ type: 'text', text: 'model: hi there; user: accept {"name":"Ada"}' }] },
            revision: expect.any(String),
            instance: expect.any(String),
          },
        },
      ]);
    });

    it('sends no log below the client log level', async () => {
      const heard = await converse({ progressToken: 'p2', logLevel: 'warning' });
      expect(heard.filter((entry) => entry.type === 'log')).toEqual([
        { type: 'log', level: 'warning', logger: 'converse', data: { asking: 'model' } },
      ]);
    });

    it('sends no progress when the client gave no progress token', async () => {
      const heard = await converse({});
      expect(heard.filter((entry) => entry.type === 'progress')).toEqual([]);
      expect(heard.at(-1)).toMatchObject({ type: 'reply', reply: { ok: true } });
    });

    it("fails the call with the gateway's error when the client cannot answer", async () => {
      const refusal: CallReply = {
        ok: false,
        error: { code: 'UNAVAILABLE', message: 'The client does not support sampling', retryable: false },
      };
      const heard = await converse({}, { 'sampling/createMessage': refusal, 'elicitation/create': userAnswer });
      expect(heard.filter((entry) => entry.type === 'request')).toHaveLength(1);
      expect(heard.at(-1)).toEqual({ type: 'reply', reply: refusal });
    });

    it('fails the call UNAVAILABLE when it has no events subject to ask', async () => {
      const reply = await call('kit', toolCall('converse'));
      expect(reply).toMatchObject({
        ok: false,
        error: { code: 'UNAVAILABLE', message: expect.stringContaining('no client to ask') },
      });
    });

    it('rejects a pending sample as soon as a cancel for its call arrives', async () => {
      const request = toolCall('converse', { deadline: Date.now() + 10_000 });
      const gateway = fakeGateway(client, request.id, {});
      await client.connection.flush();
      try {
        const pending = call('kit', { ...request, events: gateway.events }, 11_000);
        await waitFor('the sampling request', () => gateway.heard.some((entry) => entry.type === 'request'));
        const cancelledAt = Date.now();
        client.publishJson(subjects.cancel('kit'), { id: request.id, reason: 'the user pressed stop' });
        expect(await pending).toMatchObject({ ok: false, error: { code: 'CANCELLED' } });
        const failed = await waitFor('the sample to reject', () => kit.probe.askFailed.get(request.id));
        expect(failed.error).toBeInstanceOf(CancelledError);
        expect(failed.at - cancelledAt).toBeLessThan(1_000);
      } finally {
        gateway.close();
      }
    });
  });

  it('ResourceNotifier publishes the changed URI on the resourceUpdated subject', async () => {
    const updates: ResourceUpdated[] = [];
    const subscription = client.subscribe(subjects.resourceUpdated, (msg) => {
      updates.push(ResourceUpdatedSchema.parse(decodeJson(msg.data)));
    });
    await client.connection.flush();
    try {
      expect(await call('kit', toolCall('touch', { arguments: { uri: 'kit://things/7' } }))).toMatchObject({
        ok: true,
      });
      expect(await waitFor('the update', () => updates.find((update) => update.uri === 'kit://things/7'))).toEqual({
        uri: 'kit://things/7',
      });
    } finally {
      subscription.unsubscribe();
    }
  });

  it('shares the calls of one service between two instances through the queue group', async () => {
    const a = await startApp('pair', 'pair-a');
    const b = await startApp('pair', 'pair-b');
    try {
      const replies = await Promise.all(Array.from({ length: 40 }, () => call('pair', toolCall('whoami'))));
      const servedBy = replies.map((reply) =>
        reply.ok ? (reply.result as { content: { text: string }[] }).content[0].text : reply.error.code,
      );
      expect(new Set(servedBy)).toEqual(new Set(['pair-a', 'pair-b']));
      // Each call reached exactly one instance: without the queue group both would serve all 40.
      expect(a.probe.served + b.probe.served).toBe(40);
    } finally {
      await closeApp(a.app);
      await closeApp(b.app);
    }
  });

  it('on close finishes the call in flight, says goodbye, and then leaves no responders', async () => {
    const drainer = await startApp('drainer', `drainer-${randomBytes(3).toString('hex')}`);
    const request = toolCall('hold', { deadline: Date.now() + 2_000 });
    const pending = call('drainer', request, 3_000);
    await waitFor('the handler to start', () => drainer.probe.started.has(request.id));

    const closing = closeApp(drainer.app);
    await waitFor('the goodbye', () => goodbyes.find((goodbye) => goodbye.instanceId === drainer.instanceId));
    drainer.probe.held.get(request.id)!();

    expect(await pending).toMatchObject({ ok: true, result: { content: [{ type: 'text', text: 'released' }] } });
    await closing;
    await expect(
      client.request(
        subjects.request('drainer', 'tools.call'),
        encodeJson(toolCall('echo', { arguments: { text: 'late' } })),
        { timeoutMs: 1_000 },
      ),
    ).rejects.toBeInstanceOf(NoRespondersError);
  });

  it('at the end of its shutdown grace it aborts the calls still running and answers them interrupted', async () => {
    const stopping = await startApp('stopping', `stopping-${randomBytes(3).toString('hex')}`, {
      SHUTDOWN_GRACE_MS: '200',
    });
    const request = toolCall('wait_for_abort', { deadline: Date.now() + 5_000 });
    const pending = call('stopping', request, 6_000);
    await waitFor('the handler to start', () => stopping.probe.started.has(request.id));

    await closeApp(stopping.app);
    expect(await pending).toEqual({
      ok: false,
      error: {
        code: 'UNAVAILABLE',
        message: 'The replica shut down before the call finished',
        retryable: true,
        interrupted: true,
      },
    });
    expect(stopping.probe.aborted.get(request.id)).toBeInstanceOf(CallInterruptedError);
  });
});
