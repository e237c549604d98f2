import { Inject, Injectable, Logger, type OnApplicationBootstrap, type OnApplicationShutdown } from '@nestjs/common';
import { RELATED_TASK_META_KEY, type JSONRPCMessage } from '@modelcontextprotocol/sdk/types.js';
import {
  CallEventSchema,
  TaskStatusEventSchema,
  fabricSubjects,
  logLevelAllows,
  type CallEvent,
} from '@fabric/contracts';
import { NatsClient, tryDecodeJson, type Msg, type Subscription } from '@fabric/platform-nats';
import { GATEWAY_ENV, type GatewayEnv } from '../../gateway.config';
import { toTask } from '../../operations/tasks.operations';
import { TaskStore } from '../../tasks/task.store';
import { SessionRegistry } from './session.registry';
import { SessionStore } from './session.store';

/** Where a task's notifications go; it never changes, so it is kept (a few thousand tasks) after one read. */
interface Target {
  taskId: string;
  sessionId: string;
  progressToken?: string | number;
}

const TARGETS_KEPT = 2_000;

/**
 * The notifications of tasks for the 2025-11-25 sessions that created them. Every gateway replica hears every
 * task event (the worker publishes them on one connection, so they arrive in order) and handles the events of
 * one task one after the other; the replica that holds the task's session's GET stream sends them there, the
 * others drop them. So a task's progress, logs and status reach the client in the order the handler made them,
 * whichever replica accepted the task. Progress → `notifications/progress` with the creating request's token;
 * logs → `notifications/message` at the session's current log level; status changes →
 * `notifications/tasks/status`. The task's session and token come from its record, read once per task.
 */
@Injectable()
export class TaskNotifications implements OnApplicationBootstrap, OnApplicationShutdown {
  private readonly log = new Logger('TaskNotifications');
  private readonly subjects;
  private readonly prefix: string;
  /** Least recently used first. */
  private readonly targets = new Map<string, Target | null>();
  /** The event being handled per task: the next one of the same task waits for it. */
  private readonly handling = new Map<string, Promise<void>>();
  private subscription?: Subscription;

  constructor(
    @Inject(NatsClient) private readonly nats: NatsClient,
    @Inject(TaskStore) private readonly tasks: TaskStore,
    @Inject(SessionStore) private readonly sessions: SessionStore,
    @Inject(SessionRegistry) private readonly registry: SessionRegistry,
    @Inject(GATEWAY_ENV) env: GatewayEnv,
  ) {
    this.subjects = fabricSubjects(env.FABRIC_NAMESPACE);
    this.prefix = this.subjects.taskEvents('');
  }

  onApplicationBootstrap(): void {
    this.subscription = this.nats.subscribe(this.subjects.taskEventsAll, (msg) => this.inOrder(msg));
  }

  onApplicationShutdown(): void {
    this.subscription?.unsubscribe();
  }

  private inOrder(msg: Msg): void {
    if (!msg.subject.startsWith(this.prefix)) return;
    const key = msg.subject.slice(this.prefix.length);
    const previous = this.handling.get(key) ?? Promise.resolve();
    const current = previous
      .then(() => this.onEvent(key, msg))
      .catch((error: unknown) => this.log.debug({ err: error }, 'task event not delivered'))
      .finally(() => {
        if (this.handling.get(key) === current) this.handling.delete(key);
      });
    this.handling.set(key, current);
  }

  private async onEvent(key: string, msg: Msg): Promise<void> {
    const data = tryDecodeJson(msg.data);
    const target = await this.targetOf(key);
    // Only the replica holding the session's GET stream sends; the others need read nothing more.
    if (!target || !this.registry.holdsStream(target.sessionId)) return;
    const status = TaskStatusEventSchema.safeParse(data);
    if (status.success) return this.statusChanged(key);
    const event = CallEventSchema.safeParse(data);
    if (!event.success) return;
    const message = await this.messageOf(target, event.data);
    if (message) this.registry.notifyHere(target.sessionId, message);
  }

  /** The task as it is now (the record may have moved on since the event: the client gets the newest). */
  private async statusChanged(key: string): Promise<void> {
    const stored = await this.tasks.get(key);
    if (!stored?.record.sessionId) return;
    this.registry.notifyHere(stored.record.sessionId, {
      jsonrpc: '2.0',
      method: 'notifications/tasks/status',
      params: toTask(stored.record),
    });
  }

  private async messageOf(target: Target, event: CallEvent): Promise<JSONRPCMessage | undefined> {
    const _meta = { [RELATED_TASK_META_KEY]: { taskId: target.taskId } };
    if (event.type === 'progress') {
      if (target.progressToken === undefined) return undefined;
      const { type: _type, ...progress } = event;
      return {
        jsonrpc: '2.0',
        method: 'notifications/progress',
        params: { progressToken: target.progressToken, ...progress, _meta },
      };
    }
    // The session's level now (it may have changed since the task began), like a plain call's logs.
    const level = (await this.sessions.get(target.sessionId))?.logLevel;
    if (!logLevelAllows(level, event.level)) return undefined;
    const { type: _type, ...message } = event;
    return { jsonrpc: '2.0', method: 'notifications/message', params: { ...message, _meta } };
  }

  private async targetOf(key: string): Promise<Target | undefined> {
    const known = this.targets.get(key);
    if (known !== undefined) {
      this.targets.delete(key);
      this.targets.set(key, known);
      return known ?? undefined;
    }
    const stored = await this.tasks.get(key);
    if (!stored) return undefined;
    const { taskId, sessionId, progressToken } = stored.record;
    const target = sessionId === undefined ? null : { taskId, sessionId, progressToken };
    this.targets.set(key, target);
    if (this.targets.size > TARGETS_KEPT) this.targets.delete(this.targets.keys().next().value as string);
    return target ?? undefined;
  }
}
