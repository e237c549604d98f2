import type { MetricsRegistry } from '@fabric/platform-observability';
import { randomBytes } from 'node:crypto';
import type { CacheBus } from './cache.bus';
import { cacheOptionsFromEnv, type CacheEnv, type CacheOptions } from './cache.config';
import { CacheMetrics } from './cache.metrics';
import { CacheSpaceImpl, type CacheSpace } from './cache.space';
import type { CacheLogger, CacheState } from './cache.types';
import { LocalLevel } from './local.level';
import { RedisLevel } from './redis.level';

export interface CacheDeps {
  metrics?: MetricsRegistry;
  logger?: CacheLogger;
  /** Epoch milliseconds; tests move time. */
  now?: () => number;
}

const silent: CacheLogger = { warn: () => undefined, log: () => undefined };

/**
 * The two-level cache of a process: an in-process LRU in front of Redis (when configured), single-flight
 * loads in the process and across replicas, staleness guards against invalidations that race a load, and,
 * with a `CacheBus`, invalidations that reach every process's local level before `invalidate()` resolves.
 */
export class Cache {
  /** @internal */ readonly local: LocalLevel;
  /** @internal */ readonly redis?: RedisLevel;
  /** @internal */ readonly metrics: CacheMetrics;
  /** @internal */ readonly now: () => number;
  /** @internal */ bus?: CacheBus;
  private readonly logger: CacheLogger;
  private readonly spaces = new Map<string, CacheSpaceImpl>();
  private readonly tokenPrefix = randomBytes(6).toString('hex');
  private nextToken = 0;

  constructor(
    /** @internal */ readonly options: CacheOptions,
    deps: CacheDeps = {},
  ) {
    this.now = deps.now ?? Date.now;
    this.metrics = new CacheMetrics(deps.metrics);
    const logger = (this.logger = deps.logger ?? silent);
    this.local = new LocalLevel({
      maxEntries: options.maxEntries,
      maxBytes: options.maxBytes,
      now: this.now,
      metrics: this.metrics,
    });
    if (options.redisUrl) {
      this.redis = new RedisLevel({
        url: options.redisUrl,
        prefix: options.prefix,
        timeoutMs: options.redisTimeoutMs,
        lockTtlMs: options.lockTtlMs,
        logger,
        metrics: this.metrics,
        now: this.now,
      });
    }
  }

  /** A cache from the `cacheEnvShape` variables; Redis keys live under `<FABRIC_NAMESPACE>:cache`. */
  static fromEnv(env: CacheEnv & { FABRIC_NAMESPACE: string }, deps: CacheDeps = {}): Cache {
    return new Cache(cacheOptionsFromEnv(env), deps);
  }

  /** The keys and tags of one service; the same instance for the same name. */
  space(name: string): CacheSpace {
    let space = this.spaces.get(name);
    if (!space) this.spaces.set(name, (space = new CacheSpaceImpl(this, name)));
    return space;
  }

  /** What `/readyz` shows: `readiness.registerDetail('cache', () => cache.state())`. */
  state(): CacheState {
    return {
      redis: this.redis ? this.redis.status() : 'off',
      localEntries: this.local.entries,
      localBytes: this.local.bytes,
      ...(this.bus ? { members: this.bus.memberCount() } : {}),
      pendingRedisInvalidations: this.redis?.pendingInvalidations() ?? 0,
    };
  }

  /** Joins the invalidation bus: remote invalidations drop local entries, local ones wait for every member. */
  connectBus(bus: CacheBus): void {
    this.bus = bus;
    bus.start(
      {
        drop: (space, tags, keys) => {
          this.local.drop(space, tags, keys);
          this.metrics.invalidated('remote');
        },
        clearSpace: (space) => this.local.clearSpace(space),
        clearAll: () => this.local.clearAll(),
      },
      this.metrics,
      this.logger,
    );
  }

  /** Leaves the bus (announcing it), stops its timers and quits Redis. */
  async close(): Promise<void> {
    await this.bus?.close();
    await this.redis?.close();
  }

  /** @internal True while the local level may serve and keep entries (with a bus: only while it is live). */
  localUsable(): boolean {
    return this.bus ? this.bus.localUsable() : true;
  }

  /** @internal A single-flight lock token unique to this call. */
  lockToken(): string {
    return `${this.tokenPrefix}.${(this.nextToken++).toString(36)}`;
  }

  /** @internal A TTL shortened by up to the jitter percentage, never lengthened. */
  jitter(ttlMs: number): number {
    return ttlMs * (1 - (Math.random() * this.options.ttlJitterPercent) / 100);
  }
}
