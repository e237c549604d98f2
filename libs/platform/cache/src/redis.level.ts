import Redis from 'ioredis';
import { SpanKind, traced, tracingEnabled } from '@fabric/platform-observability';
import { redactUrl } from './cache.config';
import type { CacheMetrics } from './cache.metrics';
import { logInfo, type CacheLogger } from './cache.types';
import { keyTag } from './local.level';
import { defineCacheScripts } from './redis.scripts';

/** Raised (and caught by the cache) when the Redis level cannot be used right now. */
export class RedisUnavailableError extends Error {
  constructor(operation: string, options?: { cause?: unknown }) {
    super(`Redis cache level unavailable (${operation})`, options);
    this.name = 'RedisUnavailableError';
  }
}

/** What one read found. */
export interface RedisRead {
  /** The stored JSON `{v, x}` when present and current. */
  json?: string;
  /** 'taken': this caller holds the single-flight lock now; 'held': another does; 'none'. */
  lock: 'none' | 'taken' | 'held';
  /** The generations of the epoch and the guards, to pass to `store`. */
  generations: string[];
}

export interface RedisLevelOptions {
  url: string;
  prefix: string;
  timeoutMs: number;
  lockTtlMs: number;
  logger: CacheLogger;
  metrics: CacheMetrics;
  now: () => number;
}

/** After a failure the level is skipped this long before a command probes it again. */
const BACKOFF_MS = 200;
/** Generations outlive any load by far; an expired one only makes a store fail (safe). */
const GENERATION_TTL_MS = 24 * 3600_000;
/** Pending tags and keys kept for Redis per space; beyond, the whole space is dropped there (epoch bump). */
const MAX_PENDING_PER_SPACE = 1_000;

interface PendingInvalidation {
  tags: Set<string>;
  keys: Set<string>;
  all: boolean;
}

/** The shared level: entries, tag sets, generations and locks in Redis, failing fast and reconnecting alone. */
export class RedisLevel {
  private readonly redis: Redis;
  private failing = false;
  private skipUntil = 0;
  private readonly pending = new Map<string, PendingInvalidation>();
  private flushing?: Promise<void>;
  private closed = false;

  constructor(private readonly options: RedisLevelOptions) {
    this.redis = new Redis(options.url, {
      commandTimeout: options.timeoutMs,
      enableOfflineQueue: false,
      maxRetriesPerRequest: 0,
      connectTimeout: Math.max(500, options.timeoutMs * 10),
      retryStrategy: (times) => Math.min(50 * times, 1_000),
      lazyConnect: false,
    });
    defineCacheScripts(this.redis);
    this.redis.on('error', (error: Error) => this.failed('connection', error));
    this.redis.on('ready', () => {
      this.skipUntil = 0;
      void this.flushPending().catch(() => undefined);
    });
  }

  /** 'up' while the last command succeeded and the connection is ready. */
  status(): 'up' | 'down' {
    return this.redis.status === 'ready' && !this.failing ? 'up' : 'down';
  }

  pendingInvalidations(): number {
    let count = 0;
    for (const pending of this.pending.values()) count += pending.all ? 1 : pending.tags.size + pending.keys.size;
    return count;
  }

  /** Reads an entry and the generations of its guards, taking the lock when it is absent and `lock` says so. */
  async read(space: string, key: string, tags: readonly string[], lock: string | undefined): Promise<RedisRead> {
    const reply = await this.run('read', async () => {
      await this.flushPending();
      const keys = [this.entryKey(space, key), this.lockKey(space, key), this.epochKey(space)];
      for (const tag of guardsOf(tags, key)) keys.push(this.generationKey(space, tag));
      return this.redis.fabricCacheRead(keys.length, ...keys, lock ?? '', this.options.lockTtlMs, lock ? '1' : '0');
    });
    const [entry, lockState, ...generations] = reply;
    const json = typeof entry === 'string' ? entry.slice(entry.indexOf('|') + 1) : undefined;
    return {
      json,
      lock: lockState === 1 ? 'taken' : lockState === 2 ? 'held' : 'none',
      generations: generations.map(String),
    };
  }

  /**
   * Stores `json` for `ttlMs` under its tags when the generations are still `expected` (none: unconditionally),
   * releasing `lock` when it is ours; true when stored.
   */
  async store(
    space: string,
    key: string,
    entry: { json: string; ttlMs: number; tags: readonly string[] },
    expected: readonly string[] | undefined,
    lock: string | undefined,
  ): Promise<boolean> {
    return this.run('store', async () => {
      await this.flushPending();
      const guards = guardsOf(entry.tags, key);
      const keys = [this.entryKey(space, key), this.lockKey(space, key), this.epochKey(space)];
      for (const tag of guards) keys.push(this.generationKey(space, tag));
      for (const tag of entry.tags) keys.push(this.tagSetKey(space, tag));
      const args = [entry.json, Math.max(1, Math.round(entry.ttlMs)), lock ?? '', guards.length + 1];
      args.push(expected ? '1' : '0', ...(expected ?? []));
      return (await this.redis.fabricCacheStore(keys.length, ...keys, ...args)) === 1;
    });
  }

  /** Deletes the single-flight lock when it is still ours (after a failed or uncacheable load). */
  async release(space: string, key: string, lock: string): Promise<void> {
    await this.run('release', () => this.redis.fabricCacheRelease(1, this.lockKey(space, key), lock));
  }

  /** Applies an invalidation; when Redis cannot take it now, keeps it (coalesced) for when it is back. */
  async invalidate(space: string, tags: readonly string[], keys: readonly string[]): Promise<void> {
    this.addPending(space, { tags: new Set(tags), keys: new Set(keys), all: false });
    // A flush already under way took its batch before this one was added: go on until none is left.
    try {
      while (this.pending.size > 0) await this.flushPending();
    } catch {
      // kept pending, applied when Redis is back
    }
  }

  async close(): Promise<void> {
    this.closed = true;
    await this.redis.quit().catch(() => this.redis.disconnect());
  }

  /** Applies what is pending, once at a time; rejects (keeping it) when Redis fails. */
  private flushPending(): Promise<void> {
    if (this.pending.size === 0) return Promise.resolve();
    this.flushing ??= (async () => {
      try {
        for (const [space, pending] of [...this.pending]) {
          this.pending.delete(space);
          try {
            await this.guarded('invalidate', () => this.apply(space, pending));
          } catch (error) {
            this.addPending(space, pending);
            throw error;
          }
        }
      } finally {
        this.flushing = undefined;
      }
    })();
    return this.flushing;
  }

  private apply(space: string, pending: PendingInvalidation): Promise<number> {
    const keys = [this.epochKey(space)];
    for (const tag of pending.tags) keys.push(this.generationKey(space, tag), this.tagSetKey(space, tag));
    for (const key of pending.keys) keys.push(this.generationKey(space, keyTag(key)), this.entryKey(space, key));
    return this.redis.fabricCacheInvalidate(
      keys.length,
      ...keys,
      pending.all ? '1' : '0',
      pending.all ? 0 : pending.tags.size,
      GENERATION_TTL_MS,
    );
  }

  private addPending(space: string, add: PendingInvalidation): void {
    let pending = this.pending.get(space);
    if (!pending) this.pending.set(space, (pending = { tags: new Set(), keys: new Set(), all: false }));
    if (add.all) pending.all = true;
    if (!pending.all) {
      for (const tag of add.tags) pending.tags.add(tag);
      for (const key of add.keys) pending.keys.add(key);
      if (pending.tags.size + pending.keys.size > MAX_PENDING_PER_SPACE) pending.all = true;
    }
    // The epoch bump makes every entry and every load in progress of the space stale in Redis.
    if (pending.all) {
      pending.tags.clear();
      pending.keys.clear();
    }
  }

  /** Runs one step unless the level is known down; a failure is counted, logged once an episode, and thrown. */
  private async run<T>(operation: string, step: () => Promise<T>): Promise<T> {
    if (this.closed || this.redis.status !== 'ready' || this.options.now() < this.skipUntil) {
      throw new RedisUnavailableError(operation);
    }
    if (!tracingEnabled()) return this.guarded(operation, step);
    return traced(
      `redis ${operation}`,
      SpanKind.CLIENT,
      { 'db.system.name': 'redis', 'db.operation.name': operation },
      () => this.guarded(operation, step),
    );
  }

  private async guarded<T>(operation: string, step: () => Promise<T>): Promise<T> {
    try {
      const result = await step();
      if (this.failing) {
        this.failing = false;
        logInfo(this.options.logger, 'Redis cache level is back');
      }
      return result;
    } catch (error) {
      if (error instanceof RedisUnavailableError) throw error;
      this.failed(operation, error);
      throw new RedisUnavailableError(operation, { cause: error });
    }
  }

  private failed(operation: string, error: unknown): void {
    if (this.closed) return;
    this.options.metrics.redisError(operation);
    this.skipUntil = this.options.now() + BACKOFF_MS;
    if (this.failing) return;
    this.failing = true;
    this.options.logger.warn(
      { url: redactUrl(this.options.url), operation, error: error instanceof Error ? error.message : String(error) },
      'Redis cache level unavailable: serving from the local level and the loaders',
    );
  }

  private entryKey(space: string, key: string): string {
    return `${this.options.prefix}:${space}:e:${key}`;
  }

  private lockKey(space: string, key: string): string {
    return `${this.options.prefix}:${space}:l:${key}`;
  }

  private epochKey(space: string): string {
    return `${this.options.prefix}:${space}:epoch`;
  }

  private generationKey(space: string, tag: string): string {
    return `${this.options.prefix}:${space}:g:${tag}`;
  }

  private tagSetKey(space: string, tag: string): string {
    return `${this.options.prefix}:${space}:t:${tag}`;
  }
}

function guardsOf(tags: readonly string[], key: string): string[] {
  return [...tags, keyTag(key)];
}
