import { Inject, Injectable, Logger } from '@nestjs/common';
import {
  CallInterruptedError,
  CancelledError,
  DeadlineExceededError,
  InvalidArgumentError,
  TaskRecordSchema,
  TaskWorkSchema,
  UnavailableError,
  fabricSubjects,
  isTerminalTaskStatus,
  taskStorage,
  type FabricSubjects,
  type TaskRecord,
  type TaskStatus,
  type TaskStatusEvent,
  type TaskStorage,
  type TaskWork,
  type ToolResult,
  type WireError,
} from '@fabric/contracts';
import {
  NatsClient,
  RevisionConflictError,
  encodeJson,
  tryDecodeJson,
  type DurableConsumer,
  type DurableMessage,
  type KvBucket,
} from '@fabric/platform-nats';
import { MetricsRegistry, tracingEnabled, type Span } from '@fabric/platform-observability';
import { CallChannel, callContext } from './call.channel';
import { endCallSpan, runInCallSpan } from './call.span';
import { dispatchCall } from './call.dispatcher';
import { HandlerRegistry } from './handler.registry';
import { InFlightWork } from './in-flight';
import { INSTANCE_ID } from './instance-id';
import { SERVICE_ENV, type ServiceEnv } from './kit.config';
import { ServiceCache } from './service.cache';
import { toWireError } from './wire-error';

/** A task record as read, with the revision a compare-and-set write must name. */
interface StoredRecord {
  record: TaskRecord;
  revision: number;
}

/** How one run of a task ended. */
type RunOutcome =
  | { kind: 'result'; result: unknown }
  | { kind: 'error'; error: WireError }
  | { kind: 'cancelled' }
  | { kind: 'interrupted' };

const FETCH_WAIT_MS = 1_000;
/** Pause after a failure of the queue itself (JetStream away, the stream deleted) before asking again. */
const RETRY_PAUSE_MS = 1_000;
/** Compare-and-set rounds lost in a row before a write gives up (each loss re-reads the record). */
const MAX_WRITE_ROUNDS = 10;
const STATUS_MESSAGE_MAX = 500;

/**
 * Works the service's MCP tasks: takes each from the service's durable consumer of the task work queue (one
 * replica at a time, up to `MAX_CONCURRENT_TASKS` here), runs the tool as a plain call would run, and moves
 * the task's record on (compare-and-set, never over a terminal status) before acknowledging the work. A
 * replica that dies while working a task stops reporting on it: JetStream gives it to another after
 * `TASK_ACK_WAIT_MS`, and the record's `attempt` (written before each run) fails it after `TASK_MAX_ATTEMPTS`
 * runs. Started and drained by the `FabricServer`.
 */
@Injectable()
export class TaskWorker {
  private readonly log = new Logger('TaskWorker');
  private readonly subjects: FabricSubjects;
  private readonly storage: TaskStorage;
  private loop?: Promise<void>;
  private running = false;
  private paused = false;
  /** Deliveries being worked here (counted from the fetch, before the task is registered in flight). */
  private taken = 0;
  private wake?: () => void;
  private bucket?: KvBucket;
  private readonly tasks;
  private readonly runningGauge;

  constructor(
    @Inject(NatsClient) private readonly nats: NatsClient,
    @Inject(HandlerRegistry) private readonly registry: HandlerRegistry,
    @Inject(SERVICE_ENV) private readonly env: ServiceEnv,
    @Inject(MetricsRegistry) metrics: MetricsRegistry,
    @Inject(ServiceCache) private readonly cache: ServiceCache,
    @Inject(InFlightWork) private readonly inFlight: InFlightWork,
    @Inject(INSTANCE_ID) private readonly instanceId: string,
  ) {
    this.subjects = fabricSubjects(env.FABRIC_NAMESPACE);
    this.storage = taskStorage(env.FABRIC_NAMESPACE);
    this.tasks = metrics.counter('fabric_service_tasks_total', 'Task runs ended, by tool and outcome', [
      'name',
      'outcome',
    ]);
    this.runningGauge = metrics.gauge('fabric_service_tasks_running', 'Tasks being worked now');
  }

  /** True when some tool of the service may run as a task: only then is there a queue to work. */
  get enabled(): boolean {
    return [...this.registry.table.tools.values()].some(
      (tool) =>
        tool.options.execution?.taskSupport === 'optional' || tool.options.execution?.taskSupport === 'required',
    );
  }

  /** Starts taking work (in the background; the queue is opened, retrying until it can be). */
  start(): void {
    if (this.loop || !this.enabled) return;
    this.running = true;
    this.loop = this.run();
  }

  /** Takes no work while the replica is not ready; what runs goes on. */
  pause(): void {
    this.paused = true;
  }

  resume(): void {
    this.paused = false;
    this.wakeUp();
  }

  /**
   * Stops taking work at once (work fetched meanwhile is given back); resolves when the loop has ended. The
   * tasks running are in `InFlightWork`: the drain finishes or interrupts them.
   */
  stop(): Promise<void> {
    this.running = false;
    this.wakeUp();
    return this.loop ?? Promise.resolve();
  }

  private async run(): Promise<void> {
    const consumer = await this.open();
    while (this.running) {
      if (!consumer) return;
      if (this.taken >= this.env.MAX_CONCURRENT_TASKS || this.paused) {
        await this.sleep();
        continue;
      }
      let messages: DurableMessage[];
      try {
        // One at a time: a fetch of more waits for all of them (or its expiry) before it returns any.
        messages = await consumer.fetch(1, FETCH_WAIT_MS);
      } catch (error) {
        this.log.warn({ err: error }, 'cannot take tasks from the work queue; trying again');
        await this.sleep(RETRY_PAUSE_MS);
        continue;
      }
      for (const message of messages) {
        // Taken while stopping: another replica takes it now rather than after the ack wait.
        if (!this.running || this.paused) message.retry();
        else void this.take(message);
      }
    }
  }

  /** The consumer of the service's work, or undefined once stopped before it could be opened. */
  private async open(): Promise<DurableConsumer | undefined> {
    const service = this.registry.identity.service;
    while (this.running) {
      try {
        this.bucket = await this.nats.keyValue(this.storage.bucket, this.storage.bucketOptions);
        const stream = await this.nats.durableStream(this.storage.stream, this.storage.streamOptions);
        const consumer = await stream.consumer({
          name: this.storage.consumer(service),
          filterSubject: this.subjects.taskWork(service),
          ackWaitMs: this.env.TASK_ACK_WAIT_MS,
          // Unbounded: the record counts the runs that started, and fails the task once they are spent. A
          // delivery may start nothing (taken by a replica as it stops, given back), and must not count.
          maxDeliver: -1,
        });
        this.log.log(`working the tasks of ${service} (at most ${this.env.MAX_CONCURRENT_TASKS} at once)`);
        return consumer;
      } catch (error) {
        this.log.warn({ err: error }, 'cannot open the task work queue; trying again');
        await this.sleep(RETRY_PAUSE_MS);
      }
    }
    return undefined;
  }

  /** One delivery of a task's work: whatever fails here leaves it to be delivered again. */
  private async take(message: DurableMessage): Promise<void> {
    this.taken++;
    try {
      await this.work(message);
    } catch (error) {
      this.log.error({ err: error }, 'a task could not be worked; it will be delivered again');
      message.retry(RETRY_PAUSE_MS);
    } finally {
      this.taken--;
      this.wakeUp();
    }
  }

  private async work(message: DurableMessage): Promise<void> {
    const parsed = TaskWorkSchema.safeParse(tryDecodeJson(message.data));
    if (!parsed.success) {
      this.log.warn(`dropping malformed task work (stream sequence ${message.seq})`);
      message.drop('malformed task work');
      return;
    }
    const work = parsed.data;
    const stored = await this.read(work.recordKey);
    if (!stored || !live(stored.record)) {
      // Gone, expired or already terminal (a crash between the last write and the ack): nothing left to do.
      await message.ackConfirmed();
      return;
    }
    if (stored.record.attempt >= this.env.TASK_MAX_ATTEMPTS) {
      const attempts = stored.record.attempt;
      const error = new UnavailableError(
        attempts === 1
          ? 'The task was started once and the replica running it stopped before it finished'
          : `The task was started ${attempts} times and each time the replica running it stopped before it finished`,
        { retryable: false },
      ).toWire();
      await this.finish(work, stored, { kind: 'error', error }, message);
      return;
    }
    await this.runTask(work, stored, message);
  }

  private async runTask(work: TaskWork, stored: StoredRecord, message: DurableMessage): Promise<void> {
    const { request } = work;
    // The drain began while the record was read: it waits only for what was registered, so this starts nothing.
    if (!this.running) {
      message.retry();
      return;
    }
    const controller = new AbortController();
    let settle = (): void => undefined;
    const finished = new Promise<void>((resolve) => (settle = resolve));
    // Registered before the record says which attempt runs: a cancel written after that write reaches the handler.
    this.inFlight.add(request.id, { kind: 'task', controller, finished });
    this.runningGauge.inc();
    const heartbeat = setInterval(
      () => {
        try {
          message.working();
        } catch {
          // The connection is closing: the work is delivered again after the ack wait.
        }
      },
      Math.floor(this.env.TASK_ACK_WAIT_MS / 3),
    );
    try {
      // Counted before it runs: a replica that dies running it has spent an attempt.
      const started = await this.write(work.recordKey, stored, (record) => ({
        ...record,
        attempt: record.attempt + 1,
        lastUpdatedAt: new Date().toISOString(),
      }));
      if (!started) {
        // Cancelled (or gone) between the read and the write.
        await message.ackConfirmed();
        this.tasks.inc({ name: request.name, outcome: 'skipped' });
        return;
      }
      const attempt = started.record.attempt;
      // With tracing on, the run is a span continuing the trace of the operation that queued the task.
      let span: Span | undefined;
      let running: Promise<RunOutcome>;
      if (tracingEnabled()) {
        ({ span, result: running } = runInCallSpan(
          request,
          this.instanceId,
          (name) => message.header(name),
          () => this.execute(work, controller, attempt),
          { 'fabric.task.attempt': attempt },
        ));
      } else {
        running = this.execute(work, controller, attempt);
      }
      const outcome = await running;
      if (span)
        endCallSpan(span, outcome.kind === 'error' ? { ok: false, error: outcome.error } : { ok: true, result: null });
      await this.finish(work, started, outcome, message);
    } finally {
      clearInterval(heartbeat);
      this.inFlight.delete(request.id);
      this.runningGauge.dec();
      settle();
    }
  }

  /** Runs the tool as a plain call runs, under the task's deadline (its expiry) and its cancellation. */
  private async execute(work: TaskWork, controller: AbortController, attempt: number): Promise<RunOutcome> {
    const { request } = work;
    const { signal } = controller;
    const tool = this.registry.table.tools.get(request.name);
    const taskSupport = tool?.options.execution?.taskSupport;
    if (request.operation !== 'tools.call' || !tool || !(taskSupport === 'optional' || taskSupport === 'required')) {
      const what = request.operation === 'tools.call' ? `tool ${request.name}` : request.operation;
      return { kind: 'error', error: new InvalidArgumentError(`The ${what} does not run as a task`).toWire() };
    }
    const timer = setTimeout(
      () => controller.abort(new DeadlineExceededError('The task did not finish before it expired')),
      // Node fires timers longer than 2^31-1 ms at once.
      Math.max(0, Math.min(request.deadline - Date.now(), 2 ** 31 - 1)),
    );
    const channel = new CallChannel(request, this.nats, signal);
    const ctx = callContext(request, signal, channel, this.cache, { attempt });
    // A handler that ignores its signal must not hold the task: whichever settles first decides.
    let onAbort = (): void => undefined;
    const aborted = new Promise<never>((_, reject) => {
      onAbort = () => reject(signal.reason);
      if (signal.aborted) onAbort();
      else signal.addEventListener('abort', onAbort, { once: true });
    });
    try {
      const result = await Promise.race([dispatchCall(this.registry.table, request, ctx), aborted]);
      return { kind: 'result', result };
    } catch (error) {
      if (signal.reason instanceof CallInterruptedError) return { kind: 'interrupted' };
      if (signal.reason instanceof CancelledError) return { kind: 'cancelled' };
      const wire = toWireError(error, (ref, cause) =>
        this.log.error({ ref, taskId: request.id, err: cause }, `task ${request.name} failed`),
      );
      return { kind: 'error', error: wire };
    } finally {
      clearTimeout(timer);
      signal.removeEventListener('abort', onAbort);
      channel.close();
    }
  }

  /**
   * Records how the run ended and acknowledges the work: the record first (a crash between the two leaves a
   * terminal record, which the redelivery acknowledges). Cancelled: the gateway wrote the record; interrupted
   * by this replica's shutdown: no write, and the work goes back to the queue for another replica at once.
   */
  private async finish(work: TaskWork, stored: StoredRecord, outcome: RunOutcome, message: DurableMessage) {
    const name = work.request.name;
    if (outcome.kind === 'interrupted') {
      message.retry();
      this.tasks.inc({ name, outcome: 'interrupted' });
      return;
    }
    if (outcome.kind === 'cancelled') {
      await message.ackConfirmed();
      this.tasks.inc({ name, outcome: 'cancelled' });
      return;
    }
    const terminal = terminalOf(outcome);
    const written = await this.write(work.recordKey, stored, (record) => ({
      ...record,
      ...terminal,
      lastUpdatedAt: new Date().toISOString(),
    }));
    if (written) this.publishStatus(work, written.record.status);
    await message.ackConfirmed();
    this.tasks.inc({ name, outcome: written ? written.record.status : 'skipped' });
  }

  private publishStatus(work: TaskWork, status: TaskStatus): void {
    const events = work.request.events;
    if (!events) return;
    const event: TaskStatusEvent = { type: 'status', status };
    try {
      this.nats.publishJson(events, event);
    } catch {
      // A closed connection loses the event; the record holds the status for `tasks/get`.
    }
  }

  private async read(key: string): Promise<StoredRecord | undefined> {
    const entry = await this.bucket?.get(key);
    if (!entry) return undefined;
    const parsed = TaskRecordSchema.safeParse(tryDecodeJson(entry.value));
    if (!parsed.success) {
      this.log.warn(`task record ${key} is malformed; leaving it alone`);
      return undefined;
    }
    return { record: parsed.data, revision: entry.revision };
  }

  /**
   * Compare-and-set write of `change(record)`, re-reading after each lost race; never over a record that is
   * terminal, expired or gone. Resolves with what it wrote, or undefined when it wrote nothing.
   */
  private async write(
    key: string,
    stored: StoredRecord | undefined,
    change: (record: TaskRecord) => TaskRecord,
  ): Promise<StoredRecord | undefined> {
    let current = stored;
    for (let round = 0; round < MAX_WRITE_ROUNDS; round++) {
      if (!current || !live(current.record) || !this.bucket) return undefined;
      const record = change(current.record);
      try {
        return { record, revision: await this.bucket.update(key, encodeJson(record), current.revision) };
      } catch (error) {
        if (!(error instanceof RevisionConflictError)) throw error;
        current = await this.read(key);
      }
    }
    throw new Error(`task record ${key} kept changing under ${MAX_WRITE_ROUNDS} writes in a row`);
  }

  /** Waits until woken (a task ended, resumed, stopping) or `ms` passed. */
  private sleep(ms?: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = ms === undefined ? undefined : setTimeout(() => this.wakeUp(), ms);
      this.wake = () => {
        clearTimeout(timer);
        resolve();
      };
    });
  }

  private wakeUp(): void {
    const wake = this.wake;
    this.wake = undefined;
    wake?.();
  }
}

/** Not terminal and not past its TTL: a task still to work. */
function live(record: TaskRecord): boolean {
  return !isTerminalTaskStatus(record.status) && Date.parse(record.createdAt) + record.ttlMs > Date.now();
}

/**
 * The terminal fields of a run's outcome. A tool result with `isError: true` is a failed task (2025-11-25:
 * "for tool calls specifically, this includes cases where the tool call result has isError set to true"),
 * whose result `tasks/result` still returns.
 */
function terminalOf(
  outcome: Extract<RunOutcome, { kind: 'result' | 'error' }>,
): Pick<TaskRecord, 'status' | 'statusMessage' | 'outcome'> {
  if (outcome.kind === 'error') {
    return { status: 'failed', statusMessage: outcome.error.message, outcome: { ok: false, error: outcome.error } };
  }
  const result = outcome.result as ToolResult;
  if (result?.isError !== true) return { status: 'completed', statusMessage: undefined, outcome: { ok: true, result } };
  const text = result.content?.find((block) => block.type === 'text');
  const said = text && 'text' in text ? `: ${text.text}` : '';
  return {
    status: 'failed',
    statusMessage: `The tool reported an error${said}`.slice(0, STATUS_MESSAGE_MAX),
    outcome: { ok: true, result },
  };
}
