import { MetricsRegistry } from '@fabric/platform-observability';
import { Cache } from './cache';
import type { CacheOptions } from './cache.config';

const options: CacheOptions = {
  prefix: 'unit:cache',
  maxEntries: 100,
  maxBytes: 100_000,
  ttlJitterPercent: 0,
  redisTimeoutMs: 50,
  lockTtlMs: 1_000,
  lockWaitMs: 500,
};

/** A cache with its own clock and metrics. */
function localCache(overrides: Partial<CacheOptions> = {}) {
  let time = 1_000_000;
  const metrics = new MetricsRegistry();
  const cache = new Cache({ ...options, ...overrides }, { metrics, now: () => time });
  const counter = async (name: string, labels: Record<string, string> = {}) => {
    const metric = await metrics.registry.getSingleMetric(name)?.get();
    return (metric?.values ?? [])
      .filter((value) => Object.entries(labels).every(([key, label]) => value.labels[key] === label))
      .reduce((sum, value) => sum + value.value, 0);
  };
  return { cache, space: cache.space('svc'), advance: (ms: number) => (time += ms), counter };
}

/** A loader whose calls are counted and that resolves when told. */
function gatedLoader<T>(value: T) {
  let release!: () => void;
  const gate = new Promise<void>((resolve) => (release = resolve));
  const loader = jest.fn(async () => {
    await gate;
    return value;
  });
  return { loader, release };
}

describe('Cache, local level', () => {
  it('returns the same value on a hit without calling the loader again', async () => {
    const { space, counter } = localCache();
    const value = { rows: [1, 2, 3] };
    const load = jest.fn(async () => value);
    expect(await space.getOrSet('k', load, { ttlMs: 1_000, name: 'tool' })).toBe(value);
    expect(await space.getOrSet('k', load, { ttlMs: 1_000, name: 'tool' })).toBe(value);
    expect(load).toHaveBeenCalledTimes(1);
    expect(await counter('fabric_cache_hits_total', { level: 'local', name: 'tool' })).toBe(1);
    expect(await counter('fabric_cache_misses_total', { name: 'tool' })).toBe(1);
    expect(await counter('fabric_cache_loads_total', { name: 'tool' })).toBe(1);
  });

  it('expires an entry after its TTL', async () => {
    const { space, advance, counter } = localCache();
    await space.set('k', 'v', { ttlMs: 1_000 });
    advance(999);
    expect(await space.get('k')).toBe('v');
    advance(2);
    expect(await space.get('k')).toBeUndefined();
    expect(await counter('fabric_cache_evictions_total', { reason: 'expire' })).toBe(1);
  });

  it('keeps at most CACHE_MAX_ENTRIES, evicting the least recently used', async () => {
    const { cache, space, counter } = localCache({ maxEntries: 3 });
    for (const key of ['a', 'b', 'c']) await space.set(key, key, { ttlMs: 10_000 });
    await space.get('a');
    await space.set('d', 'd', { ttlMs: 10_000 });
    expect(await space.get('b')).toBeUndefined();
    expect(await space.get('a')).toBe('a');
    expect(cache.state()).toMatchObject({ redis: 'off', localEntries: 3 });
    expect(await counter('fabric_cache_evictions_total', { reason: 'evict' })).toBe(1);
  });

  it('bounds the bytes by the UTF-8 length of the JSON and keeps no value over a tenth of them', async () => {
    const { cache, space } = localCache({ maxBytes: 10_000 });
    await space.set('big', 'x'.repeat(1_001), { ttlMs: 10_000 });
    expect(await space.get('big')).toBeUndefined();
    await space.set('é', 'é'.repeat(100), { ttlMs: 10_000 }); // 2 bytes each, plus the quotes
    expect(cache.state().localBytes).toBe(202);
    for (let i = 0; i < 20; i++) await space.set(`k${i}`, 'y'.repeat(998), { ttlMs: 10_000 });
    expect(cache.state().localBytes).toBeLessThanOrEqual(10_000);
  });

  it('shortens TTLs by up to the jitter percentage, never lengthens them', async () => {
    const { space, advance } = localCache({ ttlJitterPercent: 50 });
    const keys = Array.from({ length: 100 }, (_, i) => `k${i}`);
    for (const key of keys) await space.set(key, key, { ttlMs: 1_000 });
    advance(499);
    expect((await Promise.all(keys.map((key) => space.get(key)))).every((value) => value !== undefined)).toBe(true);
    advance(300);
    const left = (await Promise.all(keys.map((key) => space.get(key)))).filter((value) => value !== undefined);
    expect(left.length).toBeGreaterThan(0);
    expect(left.length).toBeLessThan(100);
    advance(201);
    expect((await Promise.all(keys.map((key) => space.get(key)))).every((value) => value === undefined)).toBe(true);
  });

  it('stores negative values for negativeTtlMs only when it is set', async () => {
    const { space, advance } = localCache();
    const negative = (value: { found: boolean }) => !value.found;
    const load = jest.fn(async () => ({ found: false }));
    await space.getOrSet('off', load, { ttlMs: 10_000, negative });
    await space.getOrSet('off', load, { ttlMs: 10_000, negative });
    expect(load).toHaveBeenCalledTimes(2);
    await space.getOrSet('on', load, { ttlMs: 10_000, negative, negativeTtlMs: 100 });
    await space.getOrSet('on', load, { ttlMs: 10_000, negative, negativeTtlMs: 100 });
    expect(load).toHaveBeenCalledTimes(3);
    advance(101);
    await space.getOrSet('on', load, { ttlMs: 10_000, negative, negativeTtlMs: 100 });
    expect(load).toHaveBeenCalledTimes(4);
  });

  it('drops entries by tag and by key', async () => {
    const { space, counter } = localCache();
    await space.set('a', 1, { ttlMs: 10_000, tags: ['entity:ada'] });
    await space.set('b', 2, { ttlMs: 10_000, tags: ['entity:ada', 'list'] });
    await space.set('c', 3, { ttlMs: 10_000, tags: ['list'] });
    await space.invalidate({ tags: ['entity:ada'] });
    expect([await space.get('a'), await space.get('b'), await space.get('c')]).toEqual([undefined, undefined, 3]);
    await space.invalidate({ keys: ['c'] });
    expect(await space.get('c')).toBeUndefined();
    expect(await counter('fabric_cache_invalidations_total', { origin: 'local' })).toBe(2);
  });

  it('scopes keys and tags per space', async () => {
    const { cache } = localCache();
    await cache.space('one').set('k', 1, { ttlMs: 10_000, tags: ['t'] });
    await cache.space('two').set('k', 2, { ttlMs: 10_000, tags: ['t'] });
    await cache.space('one').invalidate({ tags: ['t'] });
    expect(await cache.space('one').get('k')).toBeUndefined();
    expect(await cache.space('two').get('k')).toBe(2);
    expect(cache.space('one')).toBe(cache.space('one'));
  });
});

describe('Cache, single-flight and staleness in one process', () => {
  it('shares one load between identical concurrent misses, counting the joins', async () => {
    const { space, counter } = localCache();
    const { loader, release } = gatedLoader('v');
    const calls = Array.from({ length: 50 }, () => space.getOrSet('k', loader, { ttlMs: 1_000, name: 'n' }));
    release();
    expect(await Promise.all(calls)).toEqual(Array.from({ length: 50 }, () => 'v'));
    expect(loader).toHaveBeenCalledTimes(1);
    expect(await counter('fabric_cache_singleflight_joins_total', { scope: 'process', name: 'n' })).toBe(49);
  });

  it('does not share a failed load: each joiner loads for itself', async () => {
    const { space } = localCache();
    let release!: () => void;
    const gate = new Promise<void>((resolve) => (release = resolve));
    let calls = 0;
    const load = async () => {
      calls++;
      if (calls === 1) {
        await gate;
        throw new Error('backend down');
      }
      return 'v';
    };
    const leader = space.getOrSet('k', load, { ttlMs: 1_000 });
    const joiners = [space.getOrSet('k', load, { ttlMs: 1_000 }), space.getOrSet('k', load, { ttlMs: 1_000 })];
    release();
    await expect(leader).rejects.toThrow('backend down');
    expect(await Promise.all(joiners)).toEqual(['v', 'v']);
    expect(calls).toBe(3);
  });

  it('does not share or store an uncacheable value', async () => {
    const { space } = localCache();
    const { loader, release } = gatedLoader({ isError: true });
    const policy = { ttlMs: 1_000, cacheable: (value: { isError: boolean }) => !value.isError };
    const calls = [space.getOrSet('k', loader, policy), space.getOrSet('k', loader, policy)];
    release();
    await Promise.all(calls);
    expect(loader).toHaveBeenCalledTimes(2);
    await space.getOrSet('k', loader, policy);
    expect(loader).toHaveBeenCalledTimes(3);
  });

  it('never stores a load that started before an invalidation of its tag or key', async () => {
    const { space } = localCache();
    for (const target of [{ tags: ['entity:ada'] }, { keys: ['k'] }]) {
      const { loader, release } = gatedLoader('old');
      const racing = space.getOrSet('k', loader, { ttlMs: 10_000, tags: ['entity:ada'] });
      await space.invalidate(target);
      // A miss arriving after the invalidation does not join the stale flight.
      const after = jest.fn(async () => 'new');
      const fresh = space.getOrSet('k', after, { ttlMs: 10_000, tags: ['entity:ada'] });
      release();
      expect(await racing).toBe('old');
      expect(await fresh).toBe('new');
      expect(after).toHaveBeenCalledTimes(1);
      expect(await space.get('k')).toBe('new');
      await space.invalidate({ keys: ['k'] });
    }
  });
});
