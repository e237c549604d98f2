import { fabricSubjects, type CacheInvalidation, type CacheMember, type FabricSubjects } from '@fabric/contracts';
import { MetricsRegistry } from '@fabric/platform-observability';
import { NatsClient, encodeJson } from '@fabric/platform-nats';
import { eventually, eventuallyValue } from '@fabric/platform-nats/testing';
import { randomBytes } from 'node:crypto';
import { Cache } from './cache';
import { CacheBus } from './cache.bus';

const NATS_URL = process.env['NATS_URL'] ?? 'nats://127.0.0.1:4222';

/** Subjects of a namespace no other run or test uses. */
function freshSubjects(): FabricSubjects {
  return fabricSubjects(`cachebus${randomBytes(4).toString('hex')}`);
}

describe('CacheBus (against the machine NATS)', () => {
  const subjects = freshSubjects();
  const clients: NatsClient[] = [];
  const caches: Cache[] = [];

  /** One process's worth: its own NATS connection, cache and bus member. */
  async function processWith(
    member: string,
    spaces: string[],
    options: { invalidationTimeoutMs?: number; heartbeatMs?: number; subjects?: FabricSubjects } = {},
  ) {
    const { invalidationTimeoutMs = 2_000, heartbeatMs = 100 } = options;
    const nats = await NatsClient.connect({ url: NATS_URL, name: `cache-bus-spec-${member}` });
    clients.push(nats);
    const metrics = new MetricsRegistry();
    const warnings: unknown[] = [];
    const cache = new Cache(
      {
        prefix: 'unused',
        maxEntries: 100,
        maxBytes: 100_000,
        ttlJitterPercent: 0,
        redisTimeoutMs: 50,
        lockTtlMs: 1_000,
        lockWaitMs: 1_000,
      },
      { metrics, logger: { warn: (o) => warnings.push(o), log: () => undefined } },
    );
    caches.push(cache);
    const bus = new CacheBus({
      nats,
      subjects: options.subjects ?? subjects,
      member,
      spaces,
      heartbeatMs,
      invalidationTimeoutMs,
    });
    cache.connectBus(bus);
    return { nats, cache, bus, metrics, warnings, space: cache.space('svc') };
  }

  afterAll(async () => {
    await Promise.all(caches.map((cache) => cache.close()));
    await Promise.all(clients.map((client) => client.close()));
  });

  it('resolves invalidate() only after the other process dropped the entry', async () => {
    const gateway = await processWith('gateway-1', ['*']);
    const service = await processWith('svc-1', ['svc']);
    await eventually(
      () => gateway.bus.localUsable() && service.bus.localUsable() && service.bus.memberCount() >= 1,
      5_000,
      'both members live',
    );
    const policy = { ttlMs: 60_000, tags: ['entity:ada'] };
    await gateway.space.getOrSet('k', async () => 'old', policy);
    await service.space.getOrSet('k', async () => 'old', policy);
    expect(gateway.cache.state().localEntries).toBe(1);
    await service.space.invalidate({ tags: ['entity:ada'] });
    expect(gateway.cache.state().localEntries).toBe(0);
    expect(await gateway.space.getOrSet('k', async () => 'new', policy)).toBe('new');
    expect(service.cache.state().members).toBeGreaterThanOrEqual(1);
  });

  it('waits at most the timeout for a member that never acks, and counts it', async () => {
    const sender = await processWith('svc-2', ['svc'], { invalidationTimeoutMs: 300 });
    const silent = await NatsClient.connect({ url: NATS_URL, name: 'cache-bus-spec-silent' });
    clients.push(silent);
    const announce = () =>
      silent.publishJson(subjects.cacheMembers, {
        member: 'silent',
        spaces: ['svc'],
        heartbeatMs: 60_000,
        sentAt: Date.now(),
      } satisfies CacheMember);
    announce();
    await eventually(() => sender.bus.memberCount() >= 1 && sender.bus.localUsable(), 5_000, 'the silent member known');
    // Listens on the subject but never answers.
    silent.subscribe(subjects.cacheInvalidate('svc'), () => undefined);
    await silent.connection.flush();
    const started = Date.now();
    await sender.space.invalidate({ keys: ['k'] });
    const took = Date.now() - started;
    expect(took).toBeGreaterThanOrEqual(290);
    expect(took).toBeLessThan(2_000);
    const unacked = await sender.metrics.registry.getSingleMetric('fabric_cache_invalidation_unacked_total')?.get();
    expect(unacked?.values[0]?.value).toBeGreaterThanOrEqual(1);
    expect(JSON.stringify(sender.warnings)).toContain('silent');
    silent.publish(
      subjects.cacheMembers,
      encodeJson({ member: 'silent', spaces: ['svc'], heartbeatMs: 60_000, leaving: true, sentAt: Date.now() }),
    );
  });

  it('serves local hits only from one heartbeat after it announced itself', async () => {
    const heartbeatMs = 1_000;
    const startedAt = Date.now();
    const fresh = await processWith('svc-fresh', ['svc'], { heartbeatMs, subjects: freshSubjects() });
    let loads = 0;
    const load = async () => `v${++loads}`;
    const policy = { ttlMs: 60_000, tags: ['entity:ada'] };
    // Right after joining, others may not wait for its acks yet: every read goes to the loader.
    expect(await fresh.space.getOrSet('k', load, policy)).toBe('v1');
    expect(await fresh.space.getOrSet('k', load, policy)).toBe('v2');
    expect(fresh.cache.state().localEntries).toBe(0);
    const firstHitAt = await eventuallyValue(
      async () => {
        const before = loads;
        await fresh.space.getOrSet('k', load, policy);
        return loads === before && Date.now();
      },
      5_000,
      'a local hit',
    );
    expect(firstHitAt - startedAt).toBeGreaterThanOrEqual(heartbeatMs);
    expect(fresh.cache.state().localEntries).toBe(1);
    const loadsAtHit = loads;
    expect(await fresh.space.getOrSet('k', load, policy)).toBe(`v${loadsAtHit}`);
    expect(loads).toBe(loadsAtHit);
  });

  it('clears the whole space when it hears an invalidation later than the timeout, other spaces kept', async () => {
    const late = freshSubjects();
    const gateway = await processWith('gateway-late', ['*'], { invalidationTimeoutMs: 500, subjects: late });
    await eventually(() => gateway.bus.localUsable(), 5_000, 'the local level usable');
    const svc = gateway.space;
    const other = gateway.cache.space('other');
    await svc.getOrSet('unrelated', async () => 'svc', { ttlMs: 60_000, tags: ['entity:unrelated'] });
    await other.getOrSet('k', async () => 'other', { ttlMs: 60_000, tags: ['entity:ada'] });
    expect(gateway.cache.state().localEntries).toBe(2);
    const sender = await NatsClient.connect({ url: NATS_URL, name: 'cache-bus-spec-late-sender' });
    clients.push(sender);
    const invalidation = (sentAt: number): CacheInvalidation => ({
      id: randomBytes(8).toString('hex'),
      space: 'svc',
      tags: ['entity:ada'],
      keys: [],
      origin: 'late-sender',
      sentAt,
    });
    // The ack comes once the member has applied the invalidation: in time, only the named tag goes.
    expect(
      await sender.requestJson(late.cacheInvalidate('svc'), invalidation(Date.now()), { timeoutMs: 5_000 }),
    ).toEqual({ member: 'gateway-late' });
    expect(gateway.cache.state().localEntries).toBe(2);
    expect(
      await sender.requestJson(late.cacheInvalidate('svc'), invalidation(Date.now() - 5_000), { timeoutMs: 5_000 }),
    ).toEqual({ member: 'gateway-late' });
    expect(gateway.cache.state().localEntries).toBe(1);
    let loads = 0;
    expect(await svc.getOrSet('unrelated', async () => `svc${++loads}`, { ttlMs: 60_000 })).toBe('svc1');
    expect(await other.getOrSet('k', async () => 'reloaded', { ttlMs: 60_000 })).toBe('other');
  });
});
