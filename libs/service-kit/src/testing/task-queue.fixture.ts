import { randomUUID } from 'node:crypto';
import {
  TaskRecordSchema,
  fabricSubjects,
  isTerminalTaskStatus,
  taskRecordKey,
  taskStorage,
  type CallRequest,
  type TaskRecord,
  type TaskWork,
} from '@fabric/contracts';
import {
  NatsClient,
  RevisionConflictError,
  encodeJson,
  tryDecodeJson,
  type DurableStream,
  type KvBucket,
} from '@fabric/platform-nats';

/** A task put on the queue by the fixture. */
export interface SubmittedTask {
  taskId: string;
  recordKey: string;
  /** Where the task's events (progress, logs, status) are published. */
  events: string;
}

export interface SubmitOptions {
  arguments?: Record<string, unknown>;
  ttlMs?: number;
  progressToken?: string | number;
}

/**
 * Plays the gateway's side of MCP tasks against a namespace's task storage, for tests of the service side:
 * writes a task's record and puts its work on the service's queue as the gateway does, reads records back,
 * and cancels as `tasks/cancel` does.
 */
export class TaskQueueFixture {
  private constructor(
    private readonly nats: NatsClient,
    private readonly namespace: string,
    readonly stream: DurableStream,
    readonly bucket: KvBucket,
  ) {}

  /** Opens the namespace's task stream and bucket with the settings every process uses. */
  static async open(nats: NatsClient, namespace: string): Promise<TaskQueueFixture> {
    const storage = taskStorage(namespace);
    const stream = await nats.durableStream(storage.stream, storage.streamOptions);
    const bucket = await nats.keyValue(storage.bucket, storage.bucketOptions);
    return new TaskQueueFixture(nats, namespace, stream, bucket);
  }

  /** Creates a task of `service`'s `tool`: its record (`working`, attempt 0), then its work (message id: the task id). */
  async submit(service: string, tool: string, options: SubmitOptions = {}): Promise<SubmittedTask> {
    const subjects = fabricSubjects(this.namespace);
    const taskId = randomUUID();
    const recordKey = taskRecordKey('fixture', taskId);
    const events = subjects.taskEvents(recordKey);
    const now = new Date();
    const ttlMs = options.ttlMs ?? 60_000;
    const record: TaskRecord = {
      taskId,
      service,
      tool,
      publicName: `${service}_${tool}`,
      status: 'working',
      createdAt: now.toISOString(),
      lastUpdatedAt: now.toISOString(),
      ttlMs,
      pollIntervalMs: 1_000,
      attempt: 0,
      ...(options.progressToken === undefined ? {} : { progressToken: options.progressToken }),
    };
    const request: CallRequest = {
      id: taskId,
      operation: 'tools.call',
      name: tool,
      arguments: options.arguments ?? {},
      deadline: now.getTime() + ttlMs,
      events,
      ...(options.progressToken === undefined ? {} : { progressToken: options.progressToken }),
    };
    const work: TaskWork = { recordKey, request };
    await this.bucket.create(recordKey, encodeJson(record));
    await this.stream.publish(subjects.taskWork(service), encodeJson(work), { msgId: taskId });
    return { taskId, recordKey, events };
  }

  /** The task's record now, or undefined when there is none. */
  async record(task: Pick<SubmittedTask, 'recordKey'>): Promise<TaskRecord | undefined> {
    const entry = await this.bucket.get(task.recordKey);
    return entry ? TaskRecordSchema.parse(tryDecodeJson(entry.value)) : undefined;
  }

  /** Compare-and-set write of `change(record)`, again on a lost race; resolves with what it wrote. */
  async update(task: Pick<SubmittedTask, 'recordKey'>, change: (record: TaskRecord) => TaskRecord) {
    for (;;) {
      const entry = await this.bucket.get(task.recordKey);
      if (!entry) throw new Error(`task ${task.recordKey} has no record`);
      const record = change(TaskRecordSchema.parse(tryDecodeJson(entry.value)));
      try {
        await this.bucket.update(task.recordKey, encodeJson(record), entry.revision);
        return record;
      } catch (error) {
        if (!(error instanceof RevisionConflictError)) throw error;
      }
    }
  }

  /** Cancels as `tasks/cancel` does: the record to `cancelled` (CAS), then a Cancel to the service's replicas. */
  async cancel(task: SubmittedTask, service: string): Promise<void> {
    await this.update(task, (record) => {
      if (isTerminalTaskStatus(record.status)) throw new Error(`task ${task.taskId} is already ${record.status}`);
      return { ...record, status: 'cancelled', lastUpdatedAt: new Date().toISOString() };
    });
    this.nats.publishJson(fabricSubjects(this.namespace).cancel(service), { id: task.taskId, reason: 'test cancel' });
    await this.nats.connection.flush();
  }

  /** Deletes the namespace's task stream and bucket. */
  async remove(): Promise<void> {
    const storage = taskStorage(this.namespace);
    const jsm = await this.nats.connection.jetstreamManager();
    await jsm.streams.delete(storage.stream).catch(() => undefined);
    await jsm.streams.delete(`KV_${storage.bucket}`).catch(() => undefined);
  }
}
