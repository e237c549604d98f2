import { z } from 'zod';
import { WireErrorSchema } from './errors';
import { CallRequestSchema } from './envelope.schemas';
import { fabricSubjects } from './subjects';

/** MCP task statuses (2025-11-25); the last three are terminal. */
export const TASK_STATUSES = ['working', 'input_required', 'completed', 'failed', 'cancelled'] as const;
export const TaskStatusSchema = z.enum(TASK_STATUSES);
export type TaskStatus = z.infer<typeof TaskStatusSchema>;

/** True once a task can change no more. */
export function isTerminalTaskStatus(status: TaskStatus): boolean {
  return status === 'completed' || status === 'failed' || status === 'cancelled';
}

/**
 * Longest a task (record and queued work) is kept whatever its TTL: the bound of `TASK_MAX_TTL_MS`, and the
 * max age of the bucket and the stream, which every process opening them sets alike.
 */
export const TASK_STORAGE_MAX_AGE_MS = 7 * 24 * 3_600_000;

/** Where the fabric keeps its tasks: one KV bucket of records, one work-queue stream for every service. */
export interface TaskStorage {
  maxAgeMs: number;
  /** KV bucket of task records, keyed by `taskRecordKey`. */
  bucket: string;
  /**
   * Settings of the bucket (`NatsClient.keyValue`). Every process opening it passes these: opening it with
   * other settings would change them for everyone.
   */
  bucketOptions: { ttlMs: number };
  /** Work-queue stream of `taskWork(service)` subjects. */
  stream: string;
  /** Settings of the stream (`NatsClient.durableStream`), alike in every process for the same reason. */
  streamOptions: { subjects: string[]; retention: 'workqueue'; maxAgeMs: number };
  /** Durable consumer name of one service on the work stream. */
  consumer: (service: string) => string;
}

/** The task storage of a namespace (see `TaskStorage`). */
export function taskStorage(namespace = 'fabric'): TaskStorage {
  return {
    maxAgeMs: TASK_STORAGE_MAX_AGE_MS,
    bucket: `${namespace}_tasks`,
    bucketOptions: { ttlMs: TASK_STORAGE_MAX_AGE_MS },
    stream: `${namespace}_task_work`,
    streamOptions: {
      subjects: [fabricSubjects(namespace).taskWorkAll],
      retention: 'workqueue',
      maxAgeMs: TASK_STORAGE_MAX_AGE_MS,
    },
    consumer: (service) => `${service}_tasks`,
  };
}

/**
 * The key of a task's record: the digest of its owner (the principal, or the session when callers are
 * anonymous; computed by the gateway) and the task id. Another owner computes another key, so a task it
 * did not create is "not found" to it, and an owner's tasks are listed by the prefix `<ownerDigest>.`.
 */
export function taskRecordKey(ownerDigest: string, taskId: string): string {
  return `${ownerDigest}.${taskId}`;
}

/**
 * One task, as kept in the task bucket. The gateway writes it (status `working`) before it answers the
 * `CreateTaskResult`; the replica working it moves it on; a cancel moves it to `cancelled`. Every write is
 * a compare-and-set on the key's revision, and a terminal status is never overwritten.
 */
export const TaskRecordSchema = z.object({
  taskId: z.string().min(16),
  /** The service whose work queue holds it, and the tool as the service declared it. */
  service: z.string().min(1),
  tool: z.string().min(1),
  /** The tool's public name (what the client called). */
  publicName: z.string().min(1),
  status: TaskStatusSchema,
  statusMessage: z.string().optional(),
  /** ISO 8601. */
  createdAt: z.string(),
  lastUpdatedAt: z.string(),
  /** Kept this long after `createdAt`, then removed (the task is "not found" from then on). */
  ttlMs: z.number().int().positive(),
  /** What the client is told to wait between two `tasks/get`. */
  pollIntervalMs: z.number().int().positive(),
  /** Deliveries of the work so far (1 on the first run; more after a replica died working it). */
  attempt: z.number().int().nonnegative(),
  /** The session that created it (2025-11-25): where its notifications go. */
  sessionId: z.string().optional(),
  /** The progress token of the creating request: the task's progress notifications carry it. */
  progressToken: z.union([z.string(), z.number()]).optional(),
  /**
   * Once terminal: `completed` with the tool's result; `failed` with the result when the tool returned one with
   * `isError: true` (2025-11-25: such a tool call is a failed task, its result still what `tasks/result` gives),
   * or with the error when there is no result (the handler threw, the deadline passed, too many attempts).
   */
  outcome: z
    .discriminatedUnion('ok', [
      z.object({ ok: z.literal(true), result: z.unknown() }),
      z.object({ ok: z.literal(false), error: WireErrorSchema }),
    ])
    .optional(),
});
export type TaskRecord = z.infer<typeof TaskRecordSchema>;

/**
 * What the gateway puts on `taskWork(service)` for a task (JetStream message id: the task id, so that a
 * publish retried after a lost acknowledgement is stored once). `request.id` is the task id: a cancel of
 * the task on `cancel(service)` names it; `request.events` is `taskEvents(recordKey)`.
 */
export const TaskWorkSchema = z.object({
  recordKey: z.string().min(1),
  request: CallRequestSchema,
});
export type TaskWork = z.infer<typeof TaskWorkSchema>;

/** Published on `taskEvents(recordKey)` after each status change of a task (besides its `CallEvent`s). */
export const TaskStatusEventSchema = z.object({
  type: z.literal('status'),
  status: TaskStatusSchema,
});
export type TaskStatusEvent = z.infer<typeof TaskStatusEventSchema>;
