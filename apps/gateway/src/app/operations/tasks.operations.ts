import { Inject, Injectable } from '@nestjs/common';
import { createHash, randomBytes } from 'node:crypto';
import {
  RELATED_TASK_META_KEY,
  type CallToolResult,
  type CancelTaskResult,
  type CreateTaskResult,
  type GetTaskResult,
  type ListTasksResult,
  type Task,
} from '@modelcontextprotocol/sdk/types.js';
import {
  UnavailableError,
  fabricSubjects,
  isTerminalTaskStatus,
  principalKey,
  taskRecordKey,
  type TaskRecord,
} from '@fabric/contracts';
import { MetricsRegistry } from '@fabric/platform-observability';
import { CatalogService } from '../catalog/catalog.service';
import { GATEWAY_ENV, type GatewayEnv } from '../gateway.config';
import { PolicyPipeline } from '../policy/policy.pipeline';
import { callRequestOf } from '../routing/service.client';
import { TaskStore, isExpired } from '../tasks/task.store';
import { ArgumentValidator } from './argument.validator';
import type { Operation, OperationContext, OperationRequest } from './operation';
import { paginate } from './pagination';
import { RPC, RpcError } from './rpc.error';
import { ToolResultChecker, toolError } from './tool-result';

type OperationOf<K extends Operation['kind']> = Extract<Operation, { kind: K }>;
type TaskCall = OperationOf<'tools/call'> & { task: { ttl?: number } };

/** What task ids look like (16 random bytes, base64url); anything else names no task (and no KV key). */
const TASK_ID = /^[A-Za-z0-9_-]{22}$/;

/** A new task id: unguessable, and usable as it is in a KV key and a subject. */
export function newTaskId(): string {
  return randomBytes(16).toString('base64url');
}

/** Who a task belongs to: the principal when callers authenticate, else the session; undefined: nobody. */
export function taskOwnerOf(context: Pick<OperationContext, 'principal' | 'sessionId'>): string | undefined {
  if (context.principal) return `principal\n${principalKey(context.principal)}`;
  return context.sessionId === undefined ? undefined : `session\n${context.sessionId}`;
}

/** The owner's part of its tasks' record keys (a digest: keys and subjects never show who it is). */
export function ownerDigestOf(owner: string): string {
  return createHash('sha256').update(owner).digest('hex').slice(0, 32);
}

/** The lifetime granted to a task: what it asked for (else the default), within [1 s, `TASK_MAX_TTL_MS`]. */
export function grantedTtl(
  requested: number | undefined,
  env: Pick<GatewayEnv, 'TASK_DEFAULT_TTL_MS' | 'TASK_MAX_TTL_MS'>,
): number {
  const ttl = requested !== undefined && Number.isFinite(requested) ? Math.floor(requested) : env.TASK_DEFAULT_TTL_MS;
  return Math.min(Math.max(ttl, 1_000), env.TASK_MAX_TTL_MS);
}

/** A record as the client sees its task. */
export function toTask(record: TaskRecord): Task {
  return {
    taskId: record.taskId,
    status: record.status,
    ...(record.statusMessage !== undefined ? { statusMessage: record.statusMessage } : {}),
    createdAt: record.createdAt,
    lastUpdatedAt: record.lastUpdatedAt,
    ttl: record.ttlMs,
    pollInterval: record.pollIntervalMs,
  };
}

/**
 * What `tasks/result` answers for a terminal task: what the call would have answered had it not been a task
 * (its tool result, `isError` included; for a call that failed without one, the error as a tool error, as a
 * plain call reports it), tagged with the task it belongs to.
 */
export function terminalResultOf(record: TaskRecord): CallToolResult {
  const outcome = record.outcome;
  let result: CallToolResult;
  if (record.status === 'cancelled') result = toolError(record.statusMessage ?? 'The task was cancelled.');
  else if (outcome?.ok) result = outcome.result as CallToolResult;
  else if (outcome) result = toolError(`${outcome.error.message}${outcome.error.retryable ? ' (retryable)' : ''}`);
  else result = toolError(record.statusMessage ?? 'The task failed.');
  return { ...result, _meta: { ...result._meta, [RELATED_TASK_META_KEY]: { taskId: record.taskId } } };
}

/** The protocol error of a task that does not exist for the caller (never created, another owner's, expired). */
function taskNotFound(): RpcError {
  return new RpcError(RPC.InvalidParams, 'Failed to retrieve task: Task not found');
}

/**
 * MCP tasks (2025-11-25), era-independent: a `tools/call` with `task` is written as a task record and put on
 * its service's work queue, answered at once; `tasks/get`, `tasks/result`, `tasks/list` and `tasks/cancel`
 * read and change the record, on any replica. Tasks belong to their creator (principal, else session): to
 * anyone else they do not exist. Every operation passes the policy pipeline once.
 */
@Injectable()
export class TaskOperations {
  private readonly created;
  private readonly subjects;

  constructor(
    @Inject(CatalogService) private readonly catalog: CatalogService,
    @Inject(ArgumentValidator) private readonly validator: ArgumentValidator,
    @Inject(ToolResultChecker) private readonly results: ToolResultChecker,
    @Inject(PolicyPipeline) private readonly pipeline: PolicyPipeline,
    @Inject(TaskStore) private readonly store: TaskStore,
    @Inject(GATEWAY_ENV) private readonly env: GatewayEnv,
    @Inject(MetricsRegistry) metrics: MetricsRegistry,
  ) {
    this.subjects = fabricSubjects(env.FABRIC_NAMESPACE);
    this.created = metrics.counter('fabric_gateway_tasks_created_total', 'tools/call as a task, by tool and outcome', [
      'tool',
      'outcome',
    ]);
  }

  /** tools/call with `task`: the task, once its record is written and its work queued. */
  async create(operation: TaskCall, context: OperationContext): Promise<CreateTaskResult> {
    const request: OperationRequest<TaskCall> = { operation, context, served: {} };
    let result: unknown;
    try {
      result = await this.pipeline.run<unknown>(request, () => this.executeCreate(request));
    } catch (error) {
      // A name the catalog does not know is not a label value: a client could mint them without end.
      const tool = this.catalog.snapshot.tool(operation.name) ? operation.name : '(unknown)';
      this.created.inc({ tool, outcome: error instanceof RpcError ? 'refused' : 'error' });
      throw error;
    }
    if (typeof result === 'object' && result !== null && 'task' in result) {
      this.created.inc({ tool: operation.name, outcome: 'created' });
      return result as CreateTaskResult;
    }
    // A stage answered instead (a rate limit): its tool error becomes the refusal of the task.
    this.created.inc({ tool: operation.name, outcome: 'refused' });
    const text = (result as CallToolResult).content?.find((block) => block.type === 'text')?.text;
    throw new RpcError(RPC.ServerError, text ?? 'The task was refused');
  }

  get(operation: OperationOf<'tasks/get'>, context: OperationContext): Promise<GetTaskResult> {
    return this.pipeline.run({ operation, context, served: {} }, async () =>
      toTask((await this.find(operation.taskId, context)).record),
    );
  }

  /** tasks/result: waits until the task is over, then answers what its call would have answered. */
  result(operation: OperationOf<'tasks/result'>, context: OperationContext): Promise<CallToolResult> {
    return this.pipeline.run({ operation, context, served: {} }, async () => {
      const key = this.keyOf(operation.taskId, context);
      for (;;) {
        // Waiting first, then reading: a change between the two still wakes us.
        const change = this.store.nextChange(key);
        try {
          const { record } = await this.find(operation.taskId, context);
          if (isTerminalTaskStatus(record.status)) return this.checked(record);
          await this.until(change.changed, Date.parse(record.createdAt) + record.ttlMs - Date.now(), context.signal);
        } finally {
          change.cancel();
        }
      }
    });
  }

  list(operation: OperationOf<'tasks/list'>, context: OperationContext): Promise<ListTasksResult> {
    return this.pipeline.run({ operation, context, served: {} }, async () => {
      const owner = taskOwnerOf(context);
      if (!owner) return { tasks: [] };
      const keys = await this.store.keys(`${ownerDigestOf(owner)}.`);
      const now = Date.now();
      const records = (await Promise.all(keys.map((key) => this.store.get(key).catch(() => undefined))))
        .map((stored) => stored?.record)
        .filter((record): record is TaskRecord => record !== undefined && !isExpired(record, now))
        // Newest first; the id orders tasks created in the same millisecond the same way on every page.
        .sort((a, b) => b.createdAt.localeCompare(a.createdAt) || a.taskId.localeCompare(b.taskId));
      const { page, nextCursor } = paginate(records, operation.cursor, this.env.LIST_PAGE_SIZE);
      return { tasks: page.map(toTask), ...(nextCursor ? { nextCursor } : {}) };
    });
  }

  /** tasks/cancel: the task is `cancelled` before the answer, and its handler is told to stop wherever it runs. */
  cancel(operation: OperationOf<'tasks/cancel'>, context: OperationContext): Promise<CancelTaskResult> {
    return this.pipeline.run({ operation, context, served: {} }, async () => {
      const key = this.keyOf(operation.taskId, context);
      let terminal: TaskRecord | undefined;
      const updated = await this.store.update(key, (record) => {
        if (isExpired(record)) return undefined;
        if (isTerminalTaskStatus(record.status)) {
          terminal = record;
          return undefined;
        }
        terminal = undefined;
        const now = new Date().toISOString();
        return {
          ...record,
          status: 'cancelled',
          statusMessage: 'The task was cancelled by request.',
          lastUpdatedAt: now,
        };
      });
      if (!updated || isExpired(updated)) throw taskNotFound();
      if (terminal) {
        throw new RpcError(RPC.InvalidParams, `Cannot cancel task in terminal status: ${terminal.status}`);
      }
      this.store.cancelWork(updated.service, updated.taskId, 'The task was cancelled by its client');
      this.store.statusChanged(key, 'cancelled');
      return toTask(updated);
    });
  }

  private async executeCreate({ operation, context }: OperationRequest<TaskCall>): Promise<CreateTaskResult> {
    const { name, arguments: args, task } = operation;
    const tool = this.catalog.snapshot.tool(name);
    if (!tool) throw new RpcError(RPC.InvalidParams, `Unknown tool: ${name}`);
    const support = tool.descriptor.execution?.taskSupport ?? 'forbidden';
    if (support === 'forbidden') {
      throw new RpcError(RPC.MethodNotFound, `Tool ${name} cannot be called as a task (its taskSupport is forbidden)`);
    }
    const input = args ?? {};
    const invalid = this.validator.validate(tool.descriptor.inputSchema, input);
    if (invalid) throw new RpcError(RPC.InvalidParams, `Invalid arguments for tool ${name}: ${invalid}`);
    const owner = taskOwnerOf(context);
    if (!owner)
      throw new RpcError(RPC.InvalidRequest, 'A task needs an authenticated caller or a session to belong to');
    const ownerDigest = ownerDigestOf(owner);
    await this.admit(ownerDigest);

    const taskId = newTaskId();
    const createdAt = Date.now();
    const ttlMs = grantedTtl(task.ttl, this.env);
    const { sessionId, principal, channel } = context;
    const progressToken = channel?.progressToken;
    const at = new Date(createdAt).toISOString();
    const record: TaskRecord = {
      taskId,
      service: tool.service,
      tool: tool.descriptor.name,
      publicName: name,
      status: 'working',
      createdAt: at,
      lastUpdatedAt: at,
      ttlMs,
      pollIntervalMs: this.env.TASK_POLL_INTERVAL_MS,
      attempt: 0,
      ...(sessionId !== undefined ? { sessionId } : {}),
      ...(progressToken !== undefined ? { progressToken } : {}),
    };
    const key = taskRecordKey(ownerDigest, taskId);
    // Written before anything else: from the answer on, the task exists on every replica.
    await this.store.create(key, record);
    const request = callRequestOf(
      {
        service: tool.service,
        operation: 'tools.call',
        name: tool.descriptor.name,
        arguments: input,
        sessionId,
        principal,
        progressToken,
        logLevel: channel?.logLevel,
      },
      taskId,
      createdAt + ttlMs,
    );
    request.events = this.subjects.taskEvents(key);
    try {
      await this.store.enqueue(tool.service, { recordKey: key, request });
    } catch (error) {
      const failure = new UnavailableError('The task could not be queued for its service; try again shortly.', {
        cause: error,
      });
      await this.store
        .update(key, (current) =>
          isTerminalTaskStatus(current.status)
            ? undefined
            : {
                ...current,
                status: 'failed',
                statusMessage: failure.message,
                lastUpdatedAt: new Date().toISOString(),
                outcome: { ok: false, error: failure.toWire() },
              },
        )
        .catch(() => undefined);
      throw new RpcError(RPC.InternalError, failure.message);
    }
    return { task: toTask(record) };
  }

  /** Refuses a task beyond `MAX_TASKS_PER_PRINCIPAL` unfinished ones of the same owner. */
  private async admit(ownerDigest: string): Promise<void> {
    const max = this.env.MAX_TASKS_PER_PRINCIPAL;
    if (max === 0) return;
    const keys = await this.store.keys(`${ownerDigest}.`);
    // Only an owner with that many records pays for reading them.
    if (keys.length < max) return;
    const now = Date.now();
    const records = await Promise.all(keys.map((key) => this.store.get(key).catch(() => undefined)));
    const active = records.filter(
      (stored) => stored && !isExpired(stored.record, now) && !isTerminalTaskStatus(stored.record.status),
    ).length;
    if (active >= max) {
      throw new RpcError(
        RPC.InvalidRequest,
        `Too many unfinished tasks (${max}, the limit per caller): wait for some to finish or cancel them`,
      );
    }
  }

  /** A terminal task's answer, its tool result checked as a plain call's is (shape, output schema). */
  private checked(record: TaskRecord): CallToolResult {
    const answer = terminalResultOf(record);
    if (record.status !== 'cancelled' && record.outcome?.ok) {
      const outputSchema = this.catalog.snapshot.tool(record.publicName)?.descriptor.outputSchema;
      const checked = this.results.check(record.publicName, outputSchema, record.outcome.result);
      return { ...checked, _meta: answer._meta };
    }
    return answer;
  }

  /** The caller's task named `taskId`, or the not-found error (also for an expired one). */
  private async find(taskId: string, context: OperationContext) {
    const stored = await this.store.get(this.keyOf(taskId, context));
    if (!stored || isExpired(stored.record)) throw taskNotFound();
    return stored;
  }

  private keyOf(taskId: string, context: OperationContext): string {
    const owner = taskOwnerOf(context);
    if (!owner || !TASK_ID.test(taskId)) throw taskNotFound();
    return taskRecordKey(ownerDigestOf(owner), taskId);
  }

  /** Resolves when `changed` does or `timeoutMs` passes; fails when `signal` aborts. */
  private until(changed: Promise<void>, timeoutMs: number, signal: AbortSignal | undefined): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      const settle = (error?: RpcError) => {
        clearTimeout(timer);
        signal?.removeEventListener('abort', onAbort);
        if (error) reject(error);
        else resolve();
      };
      const onAbort = () => settle(new RpcError(RPC.InternalError, 'The request was cancelled'));
      // Re-read at the expiry (then "not found"), and now and then in case a watch event was lost.
      const timer = setTimeout(() => settle(), Math.max(0, Math.min(timeoutMs + 1, 30_000)));
      if (signal?.aborted) return onAbort();
      signal?.addEventListener('abort', onAbort, { once: true });
      void changed.then(() => settle());
    });
  }
}
