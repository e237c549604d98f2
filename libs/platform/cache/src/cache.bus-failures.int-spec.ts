import { fabricSubjects } from '@fabric/contracts';
import { NatsClient } from '@fabric/platform-nats';
import { eventually, NatsServerProcess } from '@fabric/platform-nats/testing';
import { randomBytes } from 'node:crypto';
import { Cache } from './cache';
import { CacheBus } from './cache.bus';

describe('CacheBus across a lost NATS connection (a private nats-server)', () => {
  let server: NatsServerProcess;
  const clients: NatsClient[] = [];
  const caches: Cache[] = [];

  beforeAll(async () => {
    server = await NatsServerProcess.start({ name: 'cache-bus-failures' });
  });

  afterAll(async () => {
    await Promise.all(caches.map((cache) => cache.close()));
    await Promise.all(clients.map((client) => client.close()));
    await server?.stop();
  });

  /** A process with its own connection to the private server, a cache without Redis and a bus member. */
  async function processWith(member: string, options: { heartbeatMs?: number; now?: () => number } = {}) {
    const nats = await NatsClient.connect({ url: server.url, name: `cache-bus-failures-${member}` });
    clients.push(nats);
    const cache = new Cache({
      prefix: 'unused',
      maxEntries: 100,
      maxBytes: 100_000,
      ttlJitterPercent: 0,
      redisTimeoutMs: 50,
      lockTtlMs: 1_000,
      lockWaitMs: 1_000,
    });
    caches.push(cache);
    const bus = new CacheBus({
      nats,
      subjects: fabricSubjects(`cachebusfail${randomBytes(4).toString('hex')}`),
      member,
      spaces: ['svc'],
      heartbeatMs: options.heartbeatMs ?? 100,
      invalidationTimeoutMs: 1_000,
      now: options.now,
    });
    cache.connectBus(bus);
    let loads = 0;
    const space = cache.space('svc');
    /** Reads `k`; true when the value came from the local level (the loader did not run). */
    const readLocally = async (): Promise<boolean> => {
      const before = loads;
      await space.getOrSet('k', async () => `v${++loads}`, { ttlMs: 60_000, tags: ['entity:ada'] });
      return loads === before;
    };
    return { nats, cache, bus, readLocally };
  }

  it('clears the local level and bypasses it while disconnected, and uses it again after the reconnect', async () => {
    const svc = await processWith('svc-outage');
    await eventually(() => svc.bus.localUsable(), 5_000, 'the local level usable');
    expect(await svc.readLocally()).toBe(false);
    expect(await svc.readLocally()).toBe(true);
    expect(svc.cache.state().localEntries).toBe(1);

    await server.kill('SIGKILL');
    await eventually(() => !svc.nats.isConnected(), 5_000, 'the client to see its server gone');
    // It cannot hear invalidations now: the entry is not served, and what it loads is not kept.
    expect(await svc.readLocally()).toBe(false);
    expect(svc.cache.state().localEntries).toBe(0);
    expect(await svc.readLocally()).toBe(false);
    expect(svc.cache.state().localEntries).toBe(0);

    await server.restart();
    await eventually(() => svc.nats.isConnected(), 10_000, 'the client to reconnect');
    await eventually(() => svc.readLocally(), 5_000, 'a local hit after the reconnect');
    expect(svc.cache.state().localEntries).toBe(1);
  });

  it('clears the local level after an outage it did not see while it lasted (no read, no heartbeat)', async () => {
    // A heartbeat far longer than the outage, on a clock the test moves: the bus never polls during it.
    const heartbeatMs = 60_000;
    let clock = Date.now();
    const svc = await processWith('svc-unseen-outage', { heartbeatMs, now: () => clock });
    clock += heartbeatMs;
    expect(svc.bus.localUsable()).toBe(true);
    expect(await svc.readLocally()).toBe(false);
    expect(await svc.readLocally()).toBe(true);

    await server.kill('SIGKILL');
    await eventually(() => !svc.nats.isConnected(), 5_000, 'the client to see its server gone');
    await server.restart();
    await eventually(() => svc.nats.isConnected(), 10_000, 'the client to reconnect');

    // Invalidations sent during the outage never reached it: the entry it held must not be served.
    expect(await svc.readLocally()).toBe(false);
    clock += heartbeatMs;
    expect(await svc.readLocally()).toBe(false);
    expect(await svc.readLocally()).toBe(true);
  });
});
