import {
  SpanKind,
  activeContext,
  endSpan,
  runWithin,
  startSpan,
  tracingEnabled,
  withSpan,
} from '@fabric/platform-observability';
import type { Cache } from './cache';
import type { EntryPolicy } from './cache.types';
import { keyTag } from './local.level';
import { RedisUnavailableError, type RedisRead } from './redis.level';
import { awaitFleetLoad, Flights, type LoadOutcome } from './single-flight';

/** The cache of one space (a service): keys and tags are its own. */
export interface CacheSpace {
  /** Cache-aside: the cached value, or `load()`'s, stored unless an invalidation of its tags came meanwhile. */
  getOrSet<T>(key: string, load: () => Promise<T>, policy: EntryPolicy<T>): Promise<T>;
  /** The cached value, or undefined. */
  get<T>(key: string): Promise<T | undefined>;
  /** Stores a value at both levels (other processes' local copies are not dropped: invalidate for that). */
  set<T>(key: string, value: T, policy: EntryPolicy<T>): Promise<void>;
  /** Drops the entries carrying any of `tags` or named by `keys`, everywhere; see `Cache.connectBus`. */
  invalidate(target: { tags?: readonly string[]; keys?: readonly string[] }): Promise<void>;
}

/** How a value reaches `store`: after a load (guarded by what was read before it) or given by `set`. */
interface StoreContext {
  snapshot: number;
  /** Redis generations read before the load; 'always' for `set`; undefined: Redis was not read, skip it. */
  expected: readonly string[] | 'always' | undefined;
  /** The single-flight lock this caller holds. */
  lock?: string;
}

/** An entry as stored in Redis: expiry (epoch ms), size of the value's JSON, tags, value. */
interface RedisEntry {
  x: number;
  s: number;
  t: string[];
  v?: unknown;
}

export class CacheSpaceImpl implements CacheSpace {
  private readonly flights = new Flights();

  constructor(
    private readonly cache: Cache,
    readonly name: string,
  ) {}

  getOrSet<T>(key: string, load: () => Promise<T>, policy: EntryPolicy<T>): Promise<T> {
    return tracingEnabled() ? this.tracedLookup(key, load, policy) : this.lookup(key, load, policy);
  }

  /** The lookup in an INTERNAL span, active while it runs: its Redis round trips and its load are children. */
  private tracedLookup<T>(key: string, load: () => Promise<T>, policy: EntryPolicy<T>): Promise<T> {
    const parent = activeContext();
    const span = startSpan(`cache ${this.name}`, SpanKind.INTERNAL, parent, {
      'fabric.cache.space': this.name,
      'fabric.cache.name': policy.name ?? 'default',
    });
    let loaded = false;
    const loadTraced = () => {
      loaded = true;
      return load();
    };
    return runWithin(withSpan(parent, span), () => this.lookup(key, loadTraced, policy)).then(
      (value) => {
        span.setAttribute('fabric.cache.hit', !loaded);
        endSpan(span);
        return value;
      },
      (error: unknown) => {
        endSpan(span, error);
        throw error;
      },
    );
  }

  private async lookup<T>(key: string, load: () => Promise<T>, policy: EntryPolicy<T>): Promise<T> {
    const name = policy.name ?? 'default';
    const local = this.cache.local;
    if (this.cache.localUsable()) {
      const hit = local.get(this.name, key);
      if (hit) {
        this.cache.metrics.hit('local', name);
        return hit.value as T;
      }
    }
    const guards = [...(policy.tags ?? []), keyTag(key)];
    const flight = this.flights.get(key);
    if (flight && local.unchangedSince(this.name, guards, flight.snapshot)) {
      try {
        const outcome = await flight.promise;
        if (outcome.shared) {
          this.cache.metrics.join('process', name);
          return outcome.value as T;
        }
      } catch {
        // a failed load is not shared: this caller loads for itself
      }
      return (await this.fetch(key, load, policy)).value;
    }
    const promise = this.fetch(key, load, policy);
    this.flights.track(key, { snapshot: local.snapshot(), promise });
    return (await promise).value;
  }

  async get<T>(key: string): Promise<T | undefined> {
    if (this.cache.localUsable()) {
      const hit = this.cache.local.get(this.name, key);
      if (hit) {
        this.cache.metrics.hit('local', 'default');
        return hit.value as T;
      }
    }
    const snapshot = this.cache.local.snapshot();
    const redis = this.cache.redis;
    if (redis) {
      try {
        const read = await redis.read(this.name, key, [], undefined);
        if (read.json !== undefined) return this.fromRedis<T>(key, read.json, snapshot, 'default');
      } catch (error) {
        if (!(error instanceof RedisUnavailableError)) throw error;
      }
    }
    this.cache.metrics.miss('default');
    return undefined;
  }

  async set<T>(key: string, value: T, policy: EntryPolicy<T>): Promise<void> {
    await this.store(key, value, policy, { snapshot: this.cache.local.snapshot(), expected: 'always' });
  }

  async invalidate(target: { tags?: readonly string[]; keys?: readonly string[] }): Promise<void> {
    const tags = [...(target.tags ?? [])];
    const keys = [...(target.keys ?? [])];
    if (tags.length === 0 && keys.length === 0) return;
    // Redis first: a local miss after the local drop must not find the old value there and keep it again.
    await this.cache.redis?.invalidate(this.name, tags, keys);
    this.cache.local.drop(this.name, tags, keys);
    this.cache.metrics.invalidated('local');
    await this.cache.bus?.broadcast(this.name, tags, keys);
  }

  /** Reads Redis (taking the lock on a miss), waits for another replica's load or loads, and stores. */
  private async fetch<T>(key: string, load: () => Promise<T>, policy: EntryPolicy<T>): Promise<LoadOutcome<T>> {
    const name = policy.name ?? 'default';
    const tags = policy.tags ?? [];
    const snapshot = this.cache.local.snapshot();
    const redis = this.cache.redis;
    let read: RedisRead | undefined;
    let lock: string | undefined;
    if (redis) {
      try {
        lock = this.cache.lockToken();
        read = await redis.read(this.name, key, tags, lock);
        if (read.json !== undefined) return { value: this.fromRedis<T>(key, read.json, snapshot, name), shared: true };
        if (read.lock !== 'taken') lock = undefined;
        if (read.lock === 'held') {
          this.cache.metrics.miss(name);
          const waited = await awaitFleetLoad(
            () => redis.read(this.name, key, tags, undefined),
            this.cache.options.lockWaitMs,
          );
          if (waited.json !== undefined) {
            this.cache.metrics.join('fleet', name);
            return { value: this.fromRedis<T>(key, waited.json, snapshot, name), shared: true };
          }
          if (waited.reason === 'unavailable') read = undefined;
          return this.loadAndStore(key, load, policy, { snapshot, expected: read?.generations });
        }
      } catch (error) {
        if (!(error instanceof RedisUnavailableError)) throw error;
        read = undefined;
        lock = undefined;
      }
    }
    this.cache.metrics.miss(name);
    return this.loadAndStore(key, load, policy, { snapshot, expected: read?.generations, lock });
  }

  private async loadAndStore<T>(
    key: string,
    load: () => Promise<T>,
    policy: EntryPolicy<T>,
    context: StoreContext,
  ): Promise<LoadOutcome<T>> {
    this.cache.metrics.load(policy.name ?? 'default');
    let value: T;
    try {
      value = await load();
    } catch (error) {
      if (context.lock) this.release(key, context.lock);
      throw error;
    }
    const shared = await this.store(key, value, policy, context);
    return { value, shared };
  }

  /** Stores at both levels what the policy lets it; true when the value may be shared (cacheable). */
  private async store<T>(key: string, value: T, policy: EntryPolicy<T>, context: StoreContext): Promise<boolean> {
    const cacheable = policy.cacheable?.(value) ?? true;
    const negative = cacheable && (policy.negative?.(value) ?? false);
    const ttlMs = !cacheable ? 0 : negative ? (policy.negativeTtlMs ?? 0) : policy.ttlMs;
    if (ttlMs <= 0) {
      if (context.lock) this.release(key, context.lock);
      return cacheable;
    }
    const tags = policy.tags ?? [];
    const ttl = Math.max(1, Math.floor(this.cache.jitter(ttlMs)));
    const expiresAt = this.cache.now() + ttl;
    const valueJson = JSON.stringify(value);
    const size = valueJson === undefined ? 0 : Buffer.byteLength(valueJson);
    // The tags and size travel with the entry: a copy taken from Redis is dropped by tag and sized like this one.
    const json = `{"x":${expiresAt},"s":${size},"t":${JSON.stringify(tags)}${valueJson === undefined ? '' : `,"v":${valueJson}`}}`;
    if (this.cache.localUsable()) {
      const guards = [...tags, keyTag(key)];
      this.cache.local.store(this.name, key, { value, expiresAt, guards }, size, context.snapshot);
    }
    const redis = this.cache.redis;
    if (redis && context.expected) {
      const expected = context.expected === 'always' ? undefined : context.expected;
      await redis.store(this.name, key, { json, ttlMs: ttl, tags }, expected, context.lock).catch(ignoreUnavailable);
    } else if (context.lock) {
      this.release(key, context.lock);
    }
    return true;
  }

  /** A value read from Redis, kept locally until the Redis entry's own expiry. */
  private fromRedis<T>(key: string, json: string, snapshot: number, name: string): T {
    this.cache.metrics.hit('redis', name);
    const entry = JSON.parse(json) as RedisEntry;
    if (this.cache.localUsable()) {
      const guards = [...entry.t, keyTag(key)];
      this.cache.local.store(this.name, key, { value: entry.v, expiresAt: entry.x, guards }, entry.s, snapshot);
    }
    return entry.v as T;
  }

  private release(key: string, lock: string): void {
    void this.cache.redis?.release(this.name, key, lock).catch(ignoreUnavailable);
  }
}

function ignoreUnavailable(error: unknown): undefined {
  if (error instanceof RedisUnavailableError) return undefined;
  throw error;
}
