import { Inject, Injectable, Logger, type OnApplicationBootstrap, type OnApplicationShutdown } from '@nestjs/common';
import {
  TaskRecordSchema,
  fabricSubjects,
  taskStorage,
  type Cancel,
  type TaskRecord,
  type TaskStatusEvent,
  type TaskWork,
} from '@fabric/contracts';
import {
  NatsClient,
  RevisionConflictError,
  encodeJson,
  tryDecodeJson,
  type DurableStream,
  type KvBucket,
  type KvWatch,
} from '@fabric/platform-nats';
import { ReadinessRegistry, activeContext, injectHeaders, tracingEnabled } from '@fabric/platform-observability';
import { GATEWAY_ENV, type GatewayEnv } from '../gateway.config';

/** A task record as stored, with the revision its compare-and-set writes are made against. */
export interface StoredTask {
  record: TaskRecord;
  revision: number;
}

/** A change of one key, waited for: `changed` resolves on the next write or deletion of it. */
export interface TaskChange {
  readonly changed: Promise<void>;
  /** Stops waiting (the promise never settles then). */
  cancel(): void;
}

/** True once the task's lifetime (`createdAt` + `ttlMs`) has passed: it is gone to everyone from then on. */
export function isExpired(record: Pick<TaskRecord, 'createdAt' | 'ttlMs'>, now = Date.now()): boolean {
  const created = Date.parse(record.createdAt);
  return !Number.isFinite(created) || created + record.ttlMs < now;
}

/**
 * The fabric's task records (JetStream KV) and its task work queue (a JetStream work-queue stream), as the
 * gateway uses them: records written before a task is announced, compare-and-set changes, one watch per
 * replica telling local waiters of changes, and a sweeper removing expired records (any replica; removing
 * a record twice does no harm).
 */
@Injectable()
export class TaskStore implements OnApplicationBootstrap, OnApplicationShutdown {
  private readonly log = new Logger('TaskStore');
  private readonly subjects;
  private readonly storage;
  private kv?: KvBucket;
  private work?: DurableStream;
  private watcher?: KvWatch;
  private sweeper?: NodeJS.Timeout;
  /** Local waiters of `changed()`, by key. */
  private readonly waiters = new Map<string, Set<() => void>>();

  constructor(
    @Inject(NatsClient) private readonly nats: NatsClient,
    @Inject(GATEWAY_ENV) private readonly env: GatewayEnv,
    @Inject(ReadinessRegistry) readiness: ReadinessRegistry,
  ) {
    this.subjects = fabricSubjects(env.FABRIC_NAMESPACE);
    this.storage = taskStorage(env.FABRIC_NAMESPACE);
    readiness.register('tasks', () => {
      if (!this.kv || !this.work) throw new Error('task store not open');
    });
  }

  async onApplicationBootstrap(): Promise<void> {
    // Opened with the settings every process uses (the service side too): other settings would change them.
    this.kv = await this.nats.keyValue(this.storage.bucket, this.storage.bucketOptions);
    this.work = await this.nats.durableStream(this.storage.stream, this.storage.streamOptions);
    this.watcher = await this.kv.watch({
      onChange: (entry) => this.wake(entry.key),
      // Whatever changed while the watch was away, the waiters read again.
      onResumed: () => {
        for (const key of [...this.waiters.keys()]) this.wake(key);
      },
      onInterrupted: (error) =>
        this.log.warn(`task watch interrupted (${error instanceof Error ? error.message : String(error)})`),
    });
    this.sweeper = setInterval(() => void this.sweep().catch(() => undefined), this.env.TASK_SWEEP_MS);
    this.sweeper.unref();
  }

  onApplicationShutdown(): void {
    if (this.sweeper) clearInterval(this.sweeper);
    this.watcher?.stop();
    for (const key of [...this.waiters.keys()]) this.wake(key);
  }

  /** Writes a new task's record; fails when the key exists (a task id is never reused). */
  async create(key: string, record: TaskRecord): Promise<number> {
    return this.bucket().create(key, encodeJson(record));
  }

  /** The record under `key`, or undefined when there is none (or it is unreadable). Expired ones included. */
  async get(key: string): Promise<StoredTask | undefined> {
    const entry = await this.bucket().get(key);
    if (!entry) return undefined;
    const record = TaskRecordSchema.safeParse(tryDecodeJson(entry.value));
    return record.success ? { record: record.data, revision: entry.revision } : undefined;
  }

  /**
   * Changes a record from its current value (compare-and-set, read again when another process wrote it in
   * between). `change` returns the new record, or undefined to leave it as it is. Undefined when it is gone.
   */
  async update(key: string, change: (record: TaskRecord) => TaskRecord | undefined): Promise<TaskRecord | undefined> {
    for (let attempt = 0; attempt < 20; attempt++) {
      const current = await this.get(key);
      if (!current) return undefined;
      const next = change(current.record);
      if (!next) return current.record;
      try {
        await this.bucket().update(key, encodeJson(next), current.revision);
        return next;
      } catch (error) {
        if (!(error instanceof RevisionConflictError)) throw error;
      }
    }
    throw new Error(`task record ${key} changed too often to be updated`);
  }

  /** Keys of the records under `prefix` (`<ownerDigest>.`). */
  keys(prefix: string): Promise<string[]> {
    return this.bucket().keys(`${prefix}>`);
  }

  /** Removes a record (its task is "not found" from then on). */
  async delete(key: string): Promise<void> {
    await this.bucket().delete(key);
  }

  /** Puts a task's work on its service's work queue (stored once per task id, however often it is sent). */
  async enqueue(service: string, work: TaskWork): Promise<void> {
    if (!this.work) throw new Error('task store used before start-up');
    // With tracing on, the worker's span continues the trace of the operation that queued it.
    const headers = tracingEnabled() ? injectHeaders(activeContext(), {}) : undefined;
    await this.work.publish(this.subjects.taskWork(service), encodeJson(work), { msgId: work.request.id, headers });
  }

  /** Tells every replica of `service` to stop the task's handler, wherever it runs. */
  cancelWork(service: string, taskId: string, reason: string): void {
    const cancel: Cancel = { id: taskId, reason };
    if (!this.nats.connection.isClosed()) this.nats.publishJson(this.subjects.cancel(service), cancel);
  }

  /** Announces a status change on the task's events, for its client. */
  statusChanged(key: string, status: TaskStatusEvent['status']): void {
    const event: TaskStatusEvent = { type: 'status', status };
    if (!this.nats.connection.isClosed()) this.nats.publishJson(this.subjects.taskEvents(key), event);
  }

  /**
   * Waits for the next change of `key` seen by this replica's watch. Made before the record is read, so that a
   * change between the read and the wait is not missed.
   */
  nextChange(key: string): TaskChange {
    let wake!: () => void;
    const changed = new Promise<void>((resolve) => (wake = resolve));
    let set = this.waiters.get(key);
    if (!set) this.waiters.set(key, (set = new Set()));
    set.add(wake);
    const cancel = () => {
      const current = this.waiters.get(key);
      current?.delete(wake);
      if (current?.size === 0) this.waiters.delete(key);
    };
    return { changed: changed.finally(cancel), cancel };
  }

  /** Deletes every expired record; resolves with how many it removed. */
  async sweep(now = Date.now()): Promise<number> {
    let removed = 0;
    for (const key of await this.bucket().keys()) {
      const stored = await this.get(key).catch(() => undefined);
      if (stored && !isExpired(stored.record, now)) continue;
      // Unreadable records are removed too: nothing can ever use them.
      if (
        stored ||
        (await this.bucket()
          .get(key)
          .catch(() => undefined))
      ) {
        await this.delete(key).catch(() => undefined);
        removed++;
      }
    }
    return removed;
  }

  private wake(key: string): void {
    const set = this.waiters.get(key);
    if (!set) return;
    this.waiters.delete(key);
    for (const wake of set) wake();
  }

  /**
   * Task records in the bucket and task work waiting on the work queue or running (no scan: the streams'
   * states); the records include deletion markers until the task storage's age removes them.
   */
  async counts(): Promise<{ records: number; queued: number }> {
    if (!this.work) throw new Error('task store used before start-up');
    const [records, queued] = await Promise.all([this.bucket().entryCount(), this.work.messageCount()]);
    return { records, queued };
  }

  private bucket(): KvBucket {
    if (!this.kv) throw new Error('task store used before start-up');
    return this.kv;
  }
}
