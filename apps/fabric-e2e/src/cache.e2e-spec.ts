import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { ResourceUpdatedNotificationSchema, type CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import { createScratchDatabase, type ScratchDatabase } from '@fabric/platform-persistence';
import { RedisServerProcess } from '@fabric/platform-cache/testing';
import { randomBytes } from 'node:crypto';
import { Fabric, textOf } from './support/fabric';
import { steadyLoad } from './support/load';
import { metricValue } from './support/metrics';
import { eventually } from './support/processes';

const REDIS_URL = process.env['REDIS_URL'] ?? 'redis://127.0.0.1:6379';

interface Graph {
  entities: { name: string; entityType: string; observations: string[] }[];
}

const sum = async (apps: { url: string }[], name: string, labels: Record<string, string> = {}) =>
  (await Promise.all(apps.map((app) => metricValue(app.url, name, labels)))).reduce((a, b) => a + b, 0);

// Caching across the fleet: two gateways (round robin, so consecutive requests of one session land on
// different gateways) and two replicas of each service, sharing the machine's Redis.
describe('the cache across gateways and service replicas', () => {
  let database: ScratchDatabase;
  let fabric: Fabric;
  let client: Client;

  beforeAll(async () => {
    database = await createScratchDatabase('e2e_cache');
    const knowledge = { app: 'knowledge-service', env: { DATABASE_URL: database.url } };
    fabric = await Fabric.start({
      gateways: 2,
      env: { REDIS_URL },
      services: [knowledge, knowledge, { app: 'testbed-service' }, { app: 'testbed-service' }],
    });
    ({ client } = await fabric.connect());
  });

  afterAll(async () => {
    await fabric?.stop();
    await database?.drop();
  });

  const call = (c: Client, name: string, args: Record<string, unknown> = {}) =>
    c.callTool({ name, arguments: args }) as Promise<CallToolResult>;
  const serviceCalls = (app: string, name: string) =>
    sum(fabric.replicas(app), 'fabric_service_calls_total', { operation: 'tools.call', name });
  const observationsOf = async (c: Client, entity: string) =>
    ((await call(c, 'knowledge_open_nodes', { names: [entity] })).structuredContent as unknown as Graph).entities[0]
      ?.observations ?? [];

  it('answers a repeated read at the edge: the service runs it once, whichever gateway serves the repeats', async () => {
    const key = `edge-${randomBytes(4).toString('hex')}`;
    const before = await serviceCalls('testbed-service', 'cached_stamp');
    const first = textOf(await call(client, 'testbed_cached_stamp', { key }));
    for (let i = 0; i < 6; i++) expect(textOf(await call(client, 'testbed_cached_stamp', { key }))).toBe(first);
    // Another argument order or an argument outside the key changes nothing.
    expect(textOf(await call(client, 'testbed_cached_stamp', { ms: 1, key }))).toBe(first);
    expect(await serviceCalls('testbed-service', 'cached_stamp')).toBe(before + 1);
    expect(await sum(fabric.gateways, 'fabric_cache_hits_total')).toBeGreaterThanOrEqual(7);
  });

  it('50 concurrent identical misses spread over both gateways make one backend call', async () => {
    const key = `flight-${randomBytes(4).toString('hex')}`;
    const before = await serviceCalls('testbed-service', 'cached_stamp');
    const shared = async () =>
      (await sum(fabric.gateways, 'fabric_cache_singleflight_joins_total')) +
      (await sum(fabric.gateways, 'fabric_cache_hits_total'));
    const sharedBefore = await shared();
    const results = await Promise.all(
      Array.from({ length: 50 }, () => call(client, 'testbed_cached_stamp', { key, ms: 300 })),
    );
    expect(new Set(results.map(textOf)).size).toBe(1);
    expect(results.filter((result) => result.isError)).toEqual([]);
    expect(await serviceCalls('testbed-service', 'cached_stamp')).toBe(before + 1);
    // All but the one that loaded joined its load, or (arriving once it was stored) hit the cache.
    expect((await shared()) - sharedBefore).toBeGreaterThanOrEqual(49);
  });

  it('a read after a write in the same session never returns the value from before the write', async () => {
    const entity = `raw-${randomBytes(4).toString('hex')}`;
    await call(client, 'knowledge_create_entities', {
      entities: [{ name: entity, entityType: 'probe', observations: [] }],
    });
    const hitsBefore = await sum(fabric.gateways, 'fabric_cache_hits_total');
    for (let i = 0; i < 20; i++) {
      // Fill the cache of both gateways (and hit it), then write through one and read through the other.
      for (let read = 0; read < 2 + (i % 2); read++) expect(await observationsOf(client, entity)).toHaveLength(i);
      await call(client, 'knowledge_add_observations', { observations: [{ entityName: entity, contents: [`v${i}`] }] });
      expect((await observationsOf(client, entity)).at(-1)).toBe(`v${i}`);
    }
    // The reads before each write were served from the cache: the guarantee was tested, not bypassed.
    expect(await sum(fabric.gateways, 'fabric_cache_hits_total')).toBeGreaterThan(hitsBefore + 20);
  });

  it('a write is seen at once by other sessions too, and the whole graph and searches follow it', async () => {
    const { client: other } = await fabric.connect('other');
    const entity = `shared-${randomBytes(4).toString('hex')}`;
    const search = () => call(other, 'knowledge_search_nodes', { query: entity });
    const found = async () => ((await search()).structuredContent as unknown as Graph).entities.length;
    expect(await found()).toBe(0);
    expect(await found()).toBe(0);
    await call(client, 'knowledge_create_entities', {
      entities: [{ name: entity, entityType: 'probe', observations: [] }],
    });
    expect(await found()).toBe(1);
  });

  it('tells subscribed clients that a resource changed when a write invalidates its tags', async () => {
    const entity = `watched-${randomBytes(4).toString('hex')}`;
    await call(client, 'knowledge_create_entities', {
      entities: [{ name: entity, entityType: 'probe', observations: [] }],
    });
    const uri = `knowledge://entities/${entity}`;
    const { client: watcher } = await fabric.connect('watcher');
    const updates: string[] = [];
    watcher.setNotificationHandler(ResourceUpdatedNotificationSchema, (notification) => {
      updates.push(notification.params.uri);
    });
    await watcher.subscribeResource({ uri });
    const read = async () => JSON.parse(((await watcher.readResource({ uri })).contents[0] as { text: string }).text);
    expect((await read()).observations).toEqual([]);
    await call(client, 'knowledge_add_observations', { observations: [{ entityName: entity, contents: ['seen'] }] });
    await eventually(() => updates.includes(uri), 10_000, 'notifications/resources/updated');
    expect((await read()).observations).toEqual(['seen']);
  });

  it('keeps principal-scoped entries to their caller: another session never gets them', async () => {
    const { client: alice } = await fabric.connect('alice');
    const { client: bob } = await fabric.connect('bob');
    const mine = textOf(await call(alice, 'testbed_whoami_cached'));
    const theirs = textOf(await call(bob, 'testbed_whoami_cached'));
    expect(mine).not.toBe(theirs);
    const before = await serviceCalls('testbed-service', 'whoami_cached');
    for (let i = 0; i < 4; i++) {
      expect(textOf(await call(alice, 'testbed_whoami_cached'))).toBe(mine);
      expect(textOf(await call(bob, 'testbed_whoami_cached'))).toBe(theirs);
    }
    expect(await serviceCalls('testbed-service', 'whoami_cached')).toBe(before);
  });

  it('shows the cache in /readyz details without failing readiness', async () => {
    const response = await fetch(`${fabric.gateway.url}/readyz`);
    expect(response.status).toBe(200);
    expect(await response.json()).toMatchObject({ details: { cache: { status: 'up', redis: 'up' } } });
  });
});

// Redis is a help, never a dependency: stopped and restarted under load, no call fails.
describe('the cache when Redis goes away', () => {
  let redis: RedisServerProcess;
  let fabric: Fabric;

  beforeAll(async () => {
    redis = await RedisServerProcess.start();
    fabric = await Fabric.start({
      gateways: 2,
      env: { REDIS_URL: redis.url },
      services: [{ app: 'testbed-service' }, { app: 'testbed-service' }],
    });
  });

  afterAll(async () => {
    await fabric?.stop();
    await redis?.stop();
  });

  it('a Redis stopped and restarted mid-test costs no call, and the cache uses it again afterwards', async () => {
    const { client } = await fabric.connect();
    const load = steadyLoad(
      (n) =>
        n % 3 === 0
          ? client.callTool({ name: 'testbed_echo', arguments: { text: `e${n}` } })
          : client.callTool({ name: 'testbed_cached_stamp', arguments: { key: `k${Math.floor(n / 8)}` } }),
      { concurrency: 6 },
    );
    const redisErrors = () => sum(fabric.gateways, 'fabric_cache_redis_errors_total');
    await eventually(() => load.report().ok > 100, 15_000, 'calls before the outage');
    await redis.kill();
    await eventually(async () => (await redisErrors()) > 0, 15_000, 'the gateways to notice Redis is gone');
    const okDuringOutage = load.report().ok;
    await eventually(() => load.report().ok > okDuringOutage + 100, 15_000, 'calls during the outage');
    await redis.restart();
    await eventually(
      async () => {
        const states = await Promise.all(
          fabric.gateways.map(async (gateway) => (await (await fetch(`${gateway.url}/readyz`)).json()) as object),
        );
        return states.every((state) => JSON.stringify(state).includes('"redis":"up"'));
      },
      15_000,
      'every gateway back on Redis',
    );
    const hitsBefore = await sum(fabric.gateways, 'fabric_cache_hits_total', { level: 'redis' });
    await eventually(
      async () => (await sum(fabric.gateways, 'fabric_cache_hits_total', { level: 'redis' })) > hitsBefore,
      15_000,
      'hits from Redis again',
    );
    const report = await load.stop();
    expect(report.failures).toEqual([]);
  });
});
