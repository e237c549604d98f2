import { Inject, Injectable, Logger, type OnApplicationBootstrap, type OnApplicationShutdown } from '@nestjs/common';
import { z } from 'zod';
import {
  NatsClient,
  RevisionConflictError,
  encodeJson,
  tryDecodeJson,
  type KvBucket,
  type KvWatch,
} from '@fabric/platform-nats';
import { ReadinessRegistry } from '@fabric/platform-observability';
import { LogLevelSchema } from '@fabric/contracts';
import { GATEWAY_ENV, type GatewayEnv } from '../../gateway.config';

/** What every replica needs to serve a session: kept in JetStream KV, never only in one process. */
export const SessionRecordSchema = z.object({
  id: z.string(),
  createdAt: z.number(),
  protocolVersion: z.string(),
  /** The client's `initialize` params, replayed into a replica that first sees the session. */
  initialize: z.record(z.string(), z.unknown()),
  logLevel: LogLevelSchema.optional(),
  /** URIs of the resources the client subscribed to (`resources/subscribe`). */
  subscriptions: z.array(z.string()).optional(),
  /** `principalKey` of who created the session: nobody else may use it. Absent when the gateway runs open. */
  principal: z.string().optional(),
});
export type SessionRecord = z.infer<typeof SessionRecordSchema>;

interface LocalCopy {
  record: SessionRecord;
  /** Revision of the record in the bucket: writes are compare-and-set against it. */
  revision: number;
  /** When this replica last wrote the record (which restarts its idle TTL in the bucket). */
  touchedAt: number;
}

type DeletedListener = (sessionId: string) => void;
type TouchedListener = (record: SessionRecord) => void;

/**
 * Sessions in a JetStream KV bucket whose `max_age` is the idle TTL. Reads are served from a local copy
 * kept current by a KV watch (so a DELETE on any replica is seen by all); activity re-writes the record
 * at most every TTL/4, which keeps active sessions alive and lets idle ones expire everywhere.
 */
@Injectable()
export class SessionStore implements OnApplicationBootstrap, OnApplicationShutdown {
  private readonly log = new Logger('SessionStore');
  private kv?: KvBucket;
  private readonly local = new Map<string, LocalCopy>();
  private readonly deletedListeners: DeletedListener[] = [];
  private readonly touchedListeners: TouchedListener[] = [];
  private watcher?: KvWatch;
  private readonly refreshEveryMs: number;

  constructor(
    @Inject(NatsClient) private readonly nats: NatsClient,
    @Inject(GATEWAY_ENV) private readonly env: GatewayEnv,
    @Inject(ReadinessRegistry) readiness: ReadinessRegistry,
  ) {
    this.refreshEveryMs = Math.max(250, Math.floor(env.SESSION_IDLE_TTL_MS / 4));
    readiness.register('sessions', () => {
      if (!this.kv) throw new Error('session store not open');
    });
  }

  async onApplicationBootstrap(): Promise<void> {
    this.kv = await this.nats.keyValue(`${this.env.FABRIC_NAMESPACE}_sessions`, {
      history: 1,
      ttlMs: this.env.SESSION_IDLE_TTL_MS,
    });
    // Restarted by the bucket when its consumer or connection goes away.
    this.watcher = await this.kv.watch({
      onChange: (entry) => {
        if (entry.operation === 'DEL' || entry.operation === 'PURGE') {
          if (this.local.delete(entry.key)) for (const listener of this.deletedListeners) listener(entry.key);
        } else {
          const copy = this.local.get(entry.key);
          const record = SessionRecordSchema.safeParse(tryDecodeJson(entry.value));
          if (copy && record.success && entry.revision > copy.revision) {
            copy.record = record.data;
            copy.revision = entry.revision;
          }
        }
      },
      onInterrupted: (error) =>
        this.log.warn(
          `session watch interrupted (${error instanceof Error ? error.message : String(error)}); reopening it`,
        ),
      onResumed: () => this.log.log('session watch reopened'),
    });
  }

  /** After the HTTP server has drained, so requests in progress still see sessions and the catalog. */
  onApplicationShutdown(): void {
    this.watcher?.stop();
  }

  /** Called when a session is deleted on any replica. */
  onDeleted(listener: DeletedListener): void {
    this.deletedListeners.push(listener);
  }

  /** Called when this replica restarts a session's idle TTL (the session is in use). */
  onTouched(listener: TouchedListener): void {
    this.touchedListeners.push(listener);
  }

  async create(record: SessionRecord): Promise<void> {
    const revision = await this.bucket().create(record.id, encodeJson(record));
    this.local.set(record.id, { record, revision, touchedAt: Date.now() });
  }

  /** The session's record, or undefined when it does not exist (never created, deleted or expired). */
  async get(id: string): Promise<SessionRecord | undefined> {
    const now = Date.now();
    const copy = this.local.get(id);
    if (copy && now - copy.touchedAt < this.env.SESSION_IDLE_TTL_MS) {
      if (now - copy.touchedAt >= this.refreshEveryMs) this.touch(copy, now);
      return copy.record;
    }
    const entry = await this.bucket()
      .get(id)
      .catch(() => null);
    if (!entry) {
      this.local.delete(id);
      return undefined;
    }
    const record = SessionRecordSchema.safeParse(tryDecodeJson(entry.value));
    if (!record.success) return undefined;
    const fresh = { record: record.data, revision: entry.revision, touchedAt: now };
    this.local.set(id, fresh);
    this.touch(fresh, now);
    return record.data;
  }

  /**
   * Changes a session's record from its current value in the bucket (compare-and-set, retried), so that
   * changes made at the same time on other replicas are not lost. Undefined when the session is gone.
   */
  async update(
    id: string,
    change: (record: SessionRecord) => Partial<Omit<SessionRecord, 'id'>>,
  ): Promise<SessionRecord | undefined> {
    for (let attempt = 0; attempt < 10; attempt++) {
      const entry = await this.bucket().get(id);
      if (!entry) return undefined;
      const current = SessionRecordSchema.safeParse(tryDecodeJson(entry.value));
      if (!current.success) return undefined;
      const next = { ...current.data, ...change(current.data) };
      try {
        const revision = await this.bucket().update(id, encodeJson(next), entry.revision);
        // The watch may have brought a newer write of another replica meanwhile: keep the newest.
        const copy = this.local.get(id);
        if (!copy || revision > copy.revision) this.local.set(id, { record: next, revision, touchedAt: Date.now() });
        return next;
      } catch (error) {
        // Written elsewhere in between: read it again. Anything else (too large, NATS down) is a real failure.
        if (!(error instanceof RevisionConflictError)) throw error;
      }
    }
    throw new Error(`session ${id} changed too often to be updated`);
  }

  async delete(id: string): Promise<void> {
    this.local.delete(id);
    await this.bucket().delete(id);
  }

  /** Ids of sessions this replica has seen and not forgotten. */
  localIds(): string[] {
    return [...this.local.keys()];
  }

  /** Forgets local copies idle for longer than the TTL (the bucket expires the records themselves). */
  forgetIdle(now = Date.now()): string[] {
    const forgotten: string[] = [];
    for (const [id, copy] of this.local) {
      if (now - copy.touchedAt >= this.env.SESSION_IDLE_TTL_MS) {
        this.local.delete(id);
        forgotten.push(id);
      }
    }
    return forgotten;
  }

  /**
   * Re-writes the record to restart its idle TTL. Compare-and-set: when another replica wrote it meanwhile,
   * that write restarted the TTL already, and ours must not undo its change.
   */
  private touch(copy: LocalCopy, now: number): void {
    copy.touchedAt = now;
    const id = copy.record.id;
    for (const listener of this.touchedListeners) listener(copy.record);
    this.bucket()
      .update(id, encodeJson(copy.record), copy.revision)
      .then((revision) => {
        if (revision > copy.revision) copy.revision = revision;
      })
      .catch(() => this.resync(id, copy));
  }

  /**
   * After a refused refresh: take the bucket's record as it is, or forget the session when it is gone there
   * (expired while NATS was unreachable, deleted while the watch was behind), like every other replica.
   */
  private async resync(id: string, copy: LocalCopy): Promise<void> {
    const entry = await this.bucket()
      .get(id)
      .catch(() => null);
    // NATS unreachable: keep serving from the copy; the next refresh tries again.
    if (entry === null) return;
    const record = entry ? SessionRecordSchema.safeParse(tryDecodeJson(entry.value)) : undefined;
    if (!entry || !record?.success) {
      if (this.local.get(id) === copy && this.local.delete(id)) {
        for (const listener of this.deletedListeners) listener(id);
      }
      return;
    }
    if (entry.revision > copy.revision) {
      copy.record = record.data;
      copy.revision = entry.revision;
    }
  }

  /**
   * Session records in the bucket (no scan: its stream's state): the open sessions, and the deleted ones
   * whose marker the idle TTL has not removed yet.
   */
  count(): Promise<number> {
    return this.bucket().entryCount();
  }

  private bucket(): KvBucket {
    if (!this.kv) throw new Error('session store used before start-up');
    return this.kv;
  }
}
