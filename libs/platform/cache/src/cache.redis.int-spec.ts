import { MetricsRegistry } from '@fabric/platform-observability';
import { eventually } from '@fabric/platform-nats/testing';
import Redis from 'ioredis';
import { randomBytes } from 'node:crypto';
import { setImmediate } from 'node:timers/promises';
import { Cache } from './cache';
import type { CacheOptions } from './cache.config';
import { RedisServerProcess } from './testing/redis-server';

const REDIS_URL = process.env['REDIS_URL'] ?? 'redis://127.0.0.1:6379';

function options(prefix: string, overrides: Partial<CacheOptions> = {}): CacheOptions {
  return {
    prefix,
    redisUrl: REDIS_URL,
    maxEntries: 1_000,
    maxBytes: 1_000_000,
    ttlJitterPercent: 0,
    redisTimeoutMs: 200,
    lockTtlMs: 1_000,
    lockWaitMs: 2_000,
    ...overrides,
  };
}

async function counter(metrics: MetricsRegistry, name: string, labels: Record<string, string> = {}): Promise<number> {
  const metric = await metrics.registry.getSingleMetric(name)?.get();
  return (metric?.values ?? [])
    .filter((value) => Object.entries(labels).every(([key, label]) => value.labels[key] === label))
    .reduce((sum, value) => sum + value.value, 0);
}

async function ready(cache: Cache): Promise<void> {
  await eventually(() => cache.state().redis === 'up', 5_000, 'Redis to be up');
}

describe('Cache, Redis level (against the machine Redis)', () => {
  const prefix = `cachetest_${randomBytes(4).toString('hex')}:cache`;
  let admin: Redis;
  const caches: Cache[] = [];
  const replica = async (overrides: Partial<CacheOptions> = {}, metrics = new MetricsRegistry()) => {
    const cache = new Cache(options(prefix, overrides), { metrics });
    caches.push(cache);
    await ready(cache);
    return { cache, space: cache.space('svc'), metrics };
  };

  beforeAll(() => {
    admin = new Redis(REDIS_URL);
  });

  afterAll(async () => {
    await Promise.all(caches.map((cache) => cache.close()));
    const keys = await admin.keys(`${prefix}:*`);
    if (keys.length > 0) await admin.del(...keys);
    await admin.quit();
  });

  it('shares an entry between replicas, each keeping a local copy that expires with the Redis one', async () => {
    const a = await replica();
    const b = await replica();
    await a.space.getOrSet('shared', async () => ({ n: 1 }), { ttlMs: 1_000, tags: ['t'] });
    const load = jest.fn(async () => ({ n: 2 }));
    expect(await b.space.getOrSet('shared', load, { ttlMs: 1_000, tags: ['t'] })).toEqual({ n: 1 });
    expect(load).not.toHaveBeenCalled();
    expect(await counter(b.metrics, 'fabric_cache_hits_total', { level: 'redis' })).toBe(1);
    const pttl = await admin.pttl(`${prefix}:svc:e:shared`);
    expect(pttl).toBeGreaterThan(0);
    expect(pttl).toBeLessThanOrEqual(1_000);
    // The copy b took is dropped by tag like any other.
    await b.space.invalidate({ tags: ['t'] });
    expect(await b.space.get('shared')).toBeUndefined();
    expect(await a.space.get('shared')).toEqual({ n: 1 }); // a's local copy: only the bus reaches it
    expect(await admin.exists(`${prefix}:svc:e:shared`)).toBe(0);
  });

  it('resolves each of several concurrent invalidations only once Redis has dropped its entries', async () => {
    const a = await replica();
    const b = await replica();
    const keys = Array.from({ length: 8 }, (_, i) => `concurrent-${i}`);
    for (const key of keys) await a.space.getOrSet(key, async () => 'old', { ttlMs: 10_000, tags: [`tag-${key}`] });
    // b never read them: what it answers comes from Redis, or from its loader once Redis dropped them.
    const seen = await Promise.all(
      keys.map(async (key) => {
        await a.space.invalidate({ tags: [`tag-${key}`] });
        return b.space.getOrSet(key, async () => 'new', { ttlMs: 10_000, tags: [`tag-${key}`] });
      }),
    );
    expect(seen).toEqual(keys.map(() => 'new'));
  });

  it('runs the loader once for 50 concurrent identical misses spread over two replicas', async () => {
    const a = await replica();
    const b = await replica();
    let loads = 0;
    let release = (): void => undefined;
    const released = new Promise<void>((resolve) => (release = resolve));
    // The load ends only once both replicas missed: one holds the lock and loads, the other waits for it.
    const load = async () => {
      loads++;
      await released;
      return 'value';
    };
    const calls = Array.from({ length: 50 }, (_, i) =>
      (i % 2 ? a : b).space.getOrSet('flight', load, { ttlMs: 10_000, name: 'n' }),
    );
    const misses = async () =>
      (await counter(a.metrics, 'fabric_cache_misses_total')) + (await counter(b.metrics, 'fabric_cache_misses_total'));
    await eventually(async () => (await misses()) === 2, 5_000, 'a miss in each replica');
    release();
    expect(await Promise.all(calls)).toEqual(Array.from({ length: 50 }, () => 'value'));
    expect(loads).toBe(1);
    const fleetJoins =
      (await counter(a.metrics, 'fabric_cache_singleflight_joins_total', { scope: 'fleet' })) +
      (await counter(b.metrics, 'fabric_cache_singleflight_joins_total', { scope: 'fleet' }));
    expect(fleetJoins).toBe(1);
    expect(await admin.exists(`${prefix}:svc:l:flight`)).toBe(0);
  });

  it('loads after the lock TTL when the lock holder died without storing', async () => {
    const { space } = await replica({ lockTtlMs: 300, lockWaitMs: 5_000 });
    await admin.set(`${prefix}:svc:l:orphan`, 'dead-holder', 'PX', 300);
    const started = Date.now();
    expect(await space.getOrSet('orphan', async () => 'mine', { ttlMs: 10_000 })).toBe('mine');
    const waited = Date.now() - started;
    expect(waited).toBeGreaterThanOrEqual(250);
    expect(waited).toBeLessThan(1_500);
  });

  it('loads after CACHE_LOCK_WAIT_MS when the holder keeps the lock', async () => {
    const { space } = await replica({ lockTtlMs: 10_000, lockWaitMs: 200 });
    await admin.set(`${prefix}:svc:l:slow`, 'slow-holder', 'PX', 10_000);
    const started = Date.now();
    expect(await space.getOrSet('slow', async () => 'mine', { ttlMs: 10_000 })).toBe('mine');
    expect(Date.now() - started).toBeLessThan(1_000);
  });

  it('never stores in Redis a load that started before an invalidation of its tag or key', async () => {
    const a = await replica();
    const b = await replica();
    // Without a bus, a's local level hears only its own invalidations: a fresh key each round.
    for (const [key, target] of [
      ['race-tag', { tags: ['entity:ada'] }],
      ['race-key', { keys: ['race-key'] }],
    ] as const) {
      let release!: () => void;
      const gate = new Promise<void>((resolve) => (release = resolve));
      const racing = a.space.getOrSet(
        key,
        async () => {
          await gate;
          return 'old';
        },
        { ttlMs: 10_000, tags: ['entity:ada'] },
      );
      await eventually(async () => (await admin.exists(`${prefix}:svc:l:${key}`)) === 1, 2_000, 'the load to start');
      await b.space.invalidate(target); // another replica: only Redis tells a about it
      release();
      expect(await racing).toBe('old');
      expect(await admin.exists(`${prefix}:svc:e:${key}`)).toBe(0);
      expect(await admin.exists(`${prefix}:svc:l:${key}`)).toBe(0);
      expect(await b.space.getOrSet(key, async () => 'new', { ttlMs: 10_000 })).toBe('new');
    }
  });
});

describe('Cache, degraded mode (a private redis-server killed and stopped)', () => {
  let redis: RedisServerProcess;

  beforeAll(async () => {
    redis = await RedisServerProcess.start({ password: 'secret' });
  });

  afterAll(async () => {
    await redis?.stop();
  });

  it('answers every call while Redis is killed or hung, counts the errors and uses Redis again after', async () => {
    const metrics = new MetricsRegistry();
    const warnings: unknown[] = [];
    const infos: unknown[] = [];
    const logger = { warn: (o: unknown) => warnings.push(o), log: (o: unknown) => infos.push(o) };
    const url = redis.url;
    // Small local level: the loop's keys do not all fit, so Redis is read on every round.
    const cache = new Cache(
      { ...options('degraded:cache', { redisTimeoutMs: 50 }), redisUrl: url, maxEntries: 1 },
      { metrics, logger },
    );
    const space = cache.space('svc');
    await ready(cache);
    let failures = 0;
    let round = 0;
    const loop = async (until: () => boolean | Promise<boolean>) => {
      while (!(await until())) {
        // Lets timers and sockets run: with Redis skipped and the loader instant, a round is microtasks only.
        await setImmediate();
        const key = `k${round++ % 5}`;
        await space
          .getOrSet(key, async () => key, { ttlMs: 60_000 })
          .then(
            (value) => value === key || failures++,
            () => failures++,
          );
      }
    };
    await loop(() => round >= 20);
    await space.invalidate({ keys: ['k1'] }); // applied while up

    await redis.kill();
    await loop(async () => (await counter(metrics, 'fabric_cache_redis_errors_total')) > 0 && round >= 60);
    await space.invalidate({ keys: ['k2'] }); // kept for when Redis is back
    expect(cache.state()).toMatchObject({ redis: 'down', pendingRedisInvalidations: 1 });
    await redis.restart();
    await loop(() => cache.state().redis === 'up' && cache.state().pendingRedisInvalidations === 0);

    const stoppedAt = round;
    const errorsBefore = await counter(metrics, 'fabric_cache_redis_errors_total');
    redis.pause();
    const started = Date.now();
    await loop(
      async () => (await counter(metrics, 'fabric_cache_redis_errors_total')) > errorsBefore && round >= stoppedAt + 40,
    );
    // Each call waits at most about one command timeout per step while Redis hangs.
    expect((Date.now() - started) / (round - stoppedAt)).toBeLessThan(100);
    redis.resume();
    const hitsBefore = await counter(metrics, 'fabric_cache_hits_total', { level: 'redis' });
    await loop(async () => (await counter(metrics, 'fabric_cache_hits_total', { level: 'redis' })) > hitsBefore + 3);

    expect(failures).toBe(0);
    expect(warnings.length).toBeGreaterThanOrEqual(1);
    expect(JSON.stringify(warnings)).not.toContain('secret');
    expect(infos.length).toBeGreaterThanOrEqual(1);
    expect(warnings.length).toBe(infos.length + (cache.state().redis === 'up' ? 0 : 1));
    await cache.close();
  });
});
