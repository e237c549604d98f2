import { fabricSubjects, type CacheMember } from '@fabric/contracts';
import { MetricsRegistry } from '@fabric/platform-observability';
import { NatsClient, encodeJson } from '@fabric/platform-nats';
import { eventually } from '@fabric/platform-nats/testing';
import { randomBytes } from 'node:crypto';
import { Cache } from './cache';
import { CacheBus } from './cache.bus';

const NATS_URL = process.env['NATS_URL'] ?? 'nats://127.0.0.1:4222';

describe('CacheBus (against the machine NATS)', () => {
  const subjects = fabricSubjects(`cachebus${randomBytes(4).toString('hex')}`);
  const clients: NatsClient[] = [];
  const caches: Cache[] = [];

  /** One process's worth: its own NATS connection, cache and bus member. */
  async function processWith(member: string, spaces: string[], invalidationTimeoutMs = 2_000) {
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
    const bus = new CacheBus({ nats, subjects, member, spaces, heartbeatMs: 100, invalidationTimeoutMs });
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
    const sender = await processWith('svc-2', ['svc'], 300);
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
});
