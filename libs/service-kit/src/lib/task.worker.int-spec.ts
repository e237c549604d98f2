import 'reflect-metadata';
import { Inject, Injectable, Module, type INestApplication } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { randomBytes } from 'node:crypto';
import { z } from 'zod';
import {
  CallEventSchema,
  CancelledError,
  ConflictError,
  TaskStatusEventSchema,
  fabricSubjects,
  taskStorage,
  type ToolResult,
} from '@fabric/contracts';
import { loadConfig } from '@fabric/platform-config';
import { NatsClient, decodeJson } from '@fabric/platform-nats';
import { eventuallyValue } from '@fabric/platform-nats/testing';
import { TaskQueueFixture, type SubmittedTask } from '../testing';
import type { CallContext } from './call-context';
import { McpTool } from './decorators';
import { FabricServer } from './fabric.server';
import { serviceEnvSchema } from './kit.config';
import { ServiceKitModule } from './service-kit.module';

// The kit on the machine's real NATS; a namespace of its own, so its task stream and bucket are its own too.
const NATS_URL = process.env['NATS_URL'] ?? 'nats://127.0.0.1:4222';
const namespace = `t${randomBytes(6).toString('hex')}`;
const subjects = fabricSubjects(namespace);
const storage = taskStorage(namespace);
const TASK = { taskSupport: 'optional' } as const;

/** What the handlers saw, for the test to observe. */
class Probe {
  readonly started = new Set<string>();
  readonly aborted = new Map<string, unknown>();
  readonly attempts = new Map<string, number>();
}
const PROBE = Symbol('PROBE');

@Injectable()
class TaskTools {
  constructor(@Inject(PROBE) private readonly probe: Probe) {}

  @McpTool({
    name: 'steps',
    description: 'Reports progress and a log line per step, then says which attempt it was',
    input: z.object({ steps: z.number().int() }),
    execution: TASK,
  })
  steps(args: { steps: number }, ctx: CallContext): string {
    this.probe.attempts.set(ctx.callId, ctx.attempt);
    for (let i = 1; i <= args.steps; i++) {
      ctx.progress(i, args.steps);
      ctx.log('info', `step ${i}`);
    }
    return `done ${args.steps} steps, attempt ${ctx.attempt}, task ${ctx.taskId}`;
  }

  @McpTool({ name: 'wait_for_abort', description: 'Runs until its signal fires', input: z.object({}), execution: TASK })
  async waitForAbort(_args: object, ctx: CallContext): Promise<string> {
    this.probe.started.add(ctx.callId);
    await new Promise<void>((resolve) => ctx.signal.addEventListener('abort', () => resolve(), { once: true }));
    this.probe.aborted.set(ctx.callId, ctx.signal.reason);
    return 'stopped';
  }

  @McpTool({ name: 'conflict', description: 'Throws a typed error', input: z.object({}), execution: TASK })
  conflict(): never {
    throw new ConflictError('The order was already shipped');
  }

  @McpTool({ name: 'error_result', description: 'Returns an isError result', input: z.object({}), execution: TASK })
  errorResult(): ToolResult {
    return { content: [{ type: 'text', text: 'No such order: 42' }], isError: true };
  }

  @McpTool({ name: 'plain', description: 'Has no task support', input: z.object({}) })
  plain(): string {
    return 'plain';
  }
}

const running = new Set<INestApplication>();

/** Starts a service app in-process the way `bootstrapService` does. */
async function startApp(service: string, extraEnv: Record<string, string> = {}) {
  const probe = new Probe();
  @Module({ providers: [TaskTools, { provide: PROBE, useValue: probe }] })
  class TestModule {}
  const env = loadConfig(serviceEnvSchema, {
    NATS_URL,
    FABRIC_NAMESPACE: namespace,
    LOG_LEVEL: 'silent',
    HEARTBEAT_MS: '60000',
    SHUTDOWN_GRACE_MS: '3000',
    INSTANCE_ID: service,
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
  return { app, probe };
}

async function closeApp(app: INestApplication): Promise<void> {
  running.delete(app);
  await app.close();
}

describe('TaskWorker on NATS', () => {
  let client: NatsClient;
  let queue: TaskQueueFixture;
  let kit: Awaited<ReturnType<typeof startApp>>;
  /** Everything published on each task's events subject, decoded. */
  const events = new Map<string, unknown[]>();
  const heard = (task: SubmittedTask) => events.get(task.events) ?? [];
  const submit = (...args: Parameters<TaskQueueFixture['submit']>) => queue.submit(...args);

  const settled = (task: SubmittedTask, timeoutMs = 10_000) =>
    eventuallyValue(
      async () => {
        const record = await queue.record(task);
        return record && ['completed', 'failed', 'cancelled'].includes(record.status) ? record : undefined;
      },
      timeoutMs,
      `task ${task.taskId} to end`,
    );

  /** The consumer a replica of `service` opens, with its settings (so that opening it here changes nothing). */
  const consumerOf = (service: string, ackWaitMs: number) =>
    queue.stream.consumer({
      name: storage.consumer(service),
      filterSubject: subjects.taskWork(service),
      ackWaitMs,
      maxDeliver: -1,
    });

  /** Plays a replica that takes the task's work, counts its run in the record, and dies. */
  async function dieWorking(task: SubmittedTask, service: string, ackWaitMs: number): Promise<void> {
    const [taken] = await (await consumerOf(service, ackWaitMs)).fetch(1, 2_000);
    expect(taken.deliveryCount).toBe(1);
    await queue.update(task, (record) => ({ ...record, attempt: record.attempt + 1 }));
  }

  beforeAll(async () => {
    client = await NatsClient.connect({ url: NATS_URL, name: 'task-worker-int-spec' });
    queue = await TaskQueueFixture.open(client, namespace);
    client.subscribe(subjects.taskEventsAll, (msg) => {
      events.set(msg.subject, [...(events.get(msg.subject) ?? []), decodeJson(msg.data)]);
    });
    await client.connection.flush();
    kit = await startApp('kit');
  });

  afterAll(async () => {
    for (const app of [...running]) await closeApp(app);
    await queue?.remove();
    await client?.close();
  });

  it("completes a task with the handler's result, its progress and logs reaching the task's events subject", async () => {
    const task = await submit('kit', 'steps', { arguments: { steps: 3 }, progressToken: 'p1' });
    const record = await settled(task);
    expect(record).toMatchObject({
      status: 'completed',
      attempt: 1,
      outcome: {
        ok: true,
        result: { content: [{ type: 'text', text: `done 3 steps, attempt 1, task ${task.taskId}` }] },
      },
    });
    expect(Date.parse(record.lastUpdatedAt)).toBeGreaterThanOrEqual(Date.parse(record.createdAt));
    const seen = await eventuallyValue(
      () => heard(task).some((event) => TaskStatusEventSchema.safeParse(event).success) && heard(task),
      2_000,
      'the status event',
    );
    // In order on the one connection: the call's events, then the status the record took.
    expect(seen).toEqual([
      ...[1, 2, 3].flatMap((step) => [
        { type: 'progress', progress: step, total: 3 },
        { type: 'log', level: 'info', data: `step ${step}` },
      ]),
      { type: 'status', status: 'completed' },
    ]);
    expect(seen.slice(0, -1).every((event) => CallEventSchema.safeParse(event).success)).toBe(true);
    expect(await queue.stream.messageCount()).toBe(0);
  });

  it('fails a task whose handler throws, with the typed error as its outcome and message', async () => {
    const record = await settled(await submit('kit', 'conflict'));
    expect(record).toMatchObject({
      status: 'failed',
      statusMessage: 'The order was already shipped',
      outcome: { ok: false, error: { code: 'CONFLICT', message: 'The order was already shipped', retryable: false } },
    });
  });

  it('fails a task whose tool returns an isError result, keeping the result (MCP 2025-11-25)', async () => {
    const record = await settled(await submit('kit', 'error_result'));
    expect(record).toMatchObject({
      status: 'failed',
      statusMessage: 'The tool reported an error: No such order: 42',
      outcome: { ok: true, result: { content: [{ type: 'text', text: 'No such order: 42' }], isError: true } },
    });
  });

  it('fails a task of a tool without task support instead of running it', async () => {
    const record = await settled(await submit('kit', 'plain'));
    expect(record).toMatchObject({ status: 'failed', outcome: { ok: false, error: { code: 'INVALID_ARGUMENT' } } });
  });

  it('stops the handler of a cancelled task and leaves the record cancelled', async () => {
    const task = await submit('kit', 'wait_for_abort');
    await eventuallyValue(() => kit.probe.started.has(task.taskId), 5_000, 'the handler to start');
    await queue.cancel(task, 'kit');
    const reason = await eventuallyValue(() => kit.probe.aborted.get(task.taskId), 5_000, 'the handler to stop');
    expect(reason).toBeInstanceOf(CancelledError);
    // Acknowledged once the worker is done with it: after that nothing writes the record.
    await eventuallyValue(async () => (await queue.stream.messageCount()) === 0, 5_000, 'the work acknowledged');
    expect(await queue.record(task)).toMatchObject({ status: 'cancelled', attempt: 1 });
  });

  it('runs a task again on a live replica when the one that took it went silent, telling the handler its attempt', async () => {
    const task = await submit('retry', 'steps', { arguments: { steps: 1 } });
    await dieWorking(task, 'retry', 500);
    const retry = await startApp('retry', { TASK_ACK_WAIT_MS: '500' });
    const record = await settled(task);
    expect(record).toMatchObject({
      status: 'completed',
      attempt: 2,
      outcome: {
        ok: true,
        result: { content: [{ type: 'text', text: `done 1 steps, attempt 2, task ${task.taskId}` }] },
      },
    });
    expect(retry.probe.attempts.get(task.taskId)).toBe(2);
  });

  it('fails a task with a clear error once it was started as often as allowed', async () => {
    const task = await submit('spent', 'steps', { arguments: { steps: 1 } });
    await dieWorking(task, 'spent', 500);
    const spent = await startApp('spent', { TASK_ACK_WAIT_MS: '500', TASK_MAX_ATTEMPTS: '1' });
    const record = await settled(task);
    expect(record).toMatchObject({
      status: 'failed',
      statusMessage: 'The task was started once and the replica running it stopped before it finished',
      outcome: { ok: false, error: { code: 'UNAVAILABLE', retryable: false } },
    });
    expect(spent.probe.attempts.has(task.taskId)).toBe(false);
    await eventuallyValue(async () => (await queue.stream.messageCount()) === 0, 5_000, 'the work acknowledged');
  });

  it('gives a running task back to the queue at once when its replica drains past the grace period', async () => {
    const drainer = await startApp('drainer', { SHUTDOWN_GRACE_MS: '200' });
    const task = await submit('drainer', 'wait_for_abort');
    await eventuallyValue(() => drainer.probe.started.has(task.taskId), 5_000, 'the handler to start');
    await closeApp(drainer.app);
    // Far sooner than the ack wait (15 s): the drain gave it back rather than letting it time out.
    const consumer = await consumerOf('drainer', 15_000);
    const [again] = await eventuallyValue(
      async () => {
        const messages = await consumer.fetch(1, 1_000);
        return messages.length > 0 ? messages : undefined;
      },
      5_000,
      'the work to be delivered again',
    );
    expect(again.deliveryCount).toBe(2);
    again.ack();
    expect(await queue.record(task)).toMatchObject({ status: 'working', attempt: 1 });
  });
});
