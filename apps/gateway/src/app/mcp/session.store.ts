import { Inject, Injectable, Logger, type OnApplicationBootstrap, type OnApplicationShutdown } from '@nestjs/common';
import { z } from 'zod';
import { KvWatchInclude, NatsClient, encodeJson, tryDecodeJson, type KV } from '@fabric/platform-nats';
import { ReadinessRegistry } from '@fabric/platform-observability';
import { GATEWAY_ENV, type GatewayEnv } from '../gateway.config';

/** What every replica needs to serve a session: kept in JetStream KV, never only in one process. */
export const SessionRecordSchema = z.object({
  id: z.string(),
  createdAt: z.number(),
  protocolVersion: z.string(),
  /** The client's `initialize` params, replayed into a replica that first sees the session. */
  initialize: z.record(z.string(), z.unknown()),
  logLevel: z.string().optional(),
});
export type SessionRecord = z.infer<typeof SessionRecordSchema>;

interface LocalCopy {
  record: SessionRecord;
  /** When this replica last wrote the record (which restarts its idle TTL in the bucket). */
  touchedAt: number;
}

type DeletedListener = (sessionId: string) => void;

/**
 * Sessions in a JetStream KV bucket whose `max_age` is the idle TTL. Reads are served from a local copy
 * kept current by a KV watch (so a DELETE on any replica is seen by all); activity re-writes the record
 * at most every TTL/4, which keeps active sessions alive and lets idle ones expire everywhere.
 */
@Injectable()
export class SessionStore implements OnApplicationBootstrap, OnApplicationShutdown {
  private readonly log = new Logger('SessionStore');
  private kv?: KV;
  private readonly local = new Map<string, LocalCopy>();
  private readonly deletedListeners: DeletedListener[] = [];
  private watcher?: { stop(): void };
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
      ttl: this.env.SESSION_IDLE_TTL_MS,
    });
    const watch = await this.kv.watch({ include: KvWatchInclude.UpdatesOnly });
    this.watcher = watch;
    void (async () => {
      for await (const entry of watch) {
        if (entry.operation === 'DEL' || entry.operation === 'PURGE') {
          if (this.local.delete(entry.key)) for (const listener of this.deletedListeners) listener(entry.key);
        } else if (this.local.has(entry.key)) {
          const record = SessionRecordSchema.safeParse(tryDecodeJson(entry.value));
          if (record.success)
            this.local.set(entry.key, { record: record.data, touchedAt: this.local.get(entry.key)!.touchedAt });
        }
      }
    })().catch((error: unknown) => this.log.error({ err: error }, 'session watch ended'));
  }

  /** After the HTTP server has drained, so requests in progress still see sessions and the catalog. */
  onApplicationShutdown(): void {
    this.watcher?.stop();
  }

  /** Called when a session is deleted on any replica. */
  onDeleted(listener: DeletedListener): void {
    this.deletedListeners.push(listener);
  }

  async create(record: SessionRecord): Promise<void> {
    await this.bucket().create(record.id, encodeJson(record));
    this.local.set(record.id, { record, touchedAt: Date.now() });
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
    if (!entry || entry.operation !== 'PUT') {
      this.local.delete(id);
      return undefined;
    }
    const record = SessionRecordSchema.safeParse(tryDecodeJson(entry.value));
    if (!record.success) return undefined;
    const fresh = { record: record.data, touchedAt: now };
    this.local.set(id, fresh);
    this.touch(fresh, now);
    return record.data;
  }

  async update(id: string, patch: Partial<Omit<SessionRecord, 'id'>>): Promise<void> {
    const record = await this.get(id);
    if (!record) return;
    const next = { ...record, ...patch };
    await this.bucket().put(id, encodeJson(next));
    this.local.set(id, { record: next, touchedAt: Date.now() });
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

  private touch(copy: LocalCopy, now: number): void {
    copy.touchedAt = now;
    this.bucket()
      .put(copy.record.id, encodeJson(copy.record))
      .catch((error: unknown) => this.log.warn({ err: error }, 'could not refresh a session record'));
  }

  private bucket(): KV {
    if (!this.kv) throw new Error('session store used before start-up');
    return this.kv;
  }
}
