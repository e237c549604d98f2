import { NatsClient, decodeJson, encodeJson } from './nats-client';
import { RevisionConflictError } from './nats.errors';
import type { KvBucket, KvEntry } from './kv-bucket';
import { NatsServerProcess, eventually } from './testing';

describe('KvBucket (against a private nats-server it kills and restarts)', () => {
  let server: NatsServerProcess;
  let client: NatsClient;
  let bucket: KvBucket;

  beforeAll(async () => {
    server = await NatsServerProcess.start();
    client = await NatsClient.connect({ url: server.url, name: 'kv-bucket-spec' });
    bucket = await client.keyValue('spec', { history: 1 });
  });

  afterAll(async () => {
    await client?.close();
    await server?.stop();
  });

  it('reads a missing key and a deleted key as undefined, a written one with its revision', async () => {
    expect(await bucket.get('missing')).toBeUndefined();
    const revision = await bucket.create('present', encodeJson({ v: 1 }));
    const entry = await bucket.get('present');
    expect([entry?.revision, decodeJson(entry!.value)]).toEqual([revision, { v: 1 }]);
    await bucket.delete('present');
    expect(await bucket.get('present')).toBeUndefined();
  });

  it('refuses to create an existing key and to update a stale revision with RevisionConflictError', async () => {
    const first = await bucket.create('cas', encodeJson(1));
    const created = await bucket.create('cas', encodeJson(2)).catch((error: unknown) => error);
    expect(created).toBeInstanceOf(RevisionConflictError);
    expect(created).toMatchObject({ bucket: 'spec', key: 'cas', expectedRevision: 0 });

    const second = await bucket.update('cas', encodeJson(3), first);
    const stale = await bucket.update('cas', encodeJson(4), first).catch((error: unknown) => error);
    expect(stale).toBeInstanceOf(RevisionConflictError);
    expect((stale as RevisionConflictError).expectedRevision).toBe(first);
    expect((await bucket.get('cas'))?.revision).toBe(second);
  });

  it('a key deleted can be created again', async () => {
    await bucket.create('again', encodeJson('a'));
    await bucket.delete('again');
    await expect(bucket.create('again', encodeJson('b'))).resolves.toBeGreaterThan(0);
  });

  it('lists the keys present under a prefix, not the deleted ones', async () => {
    await bucket.create('owner-a.t1', encodeJson(1));
    await bucket.create('owner-a.t2', encodeJson(2));
    await bucket.create('owner-b.t3', encodeJson(3));
    await bucket.delete('owner-a.t2');
    expect((await bucket.keys('owner-a.>')).sort()).toEqual(['owner-a.t1']);
    expect(await bucket.keys('owner-c.>')).toEqual([]);
  });

  it('a watch sees changes made after it started, deletions included, in order', async () => {
    await bucket.create('before', encodeJson(0));
    const seen: KvEntry[] = [];
    const watch = await bucket.watch({ onChange: (entry) => seen.push(entry) });
    try {
      const revision = await bucket.create('w', encodeJson(1));
      await bucket.update('w', encodeJson(2), revision);
      await bucket.delete('w');
      await eventually(() => seen.length === 3, 5_000, 'three changes');
      expect(seen.map((entry) => [entry.key, entry.operation])).toEqual([
        ['w', 'PUT'],
        ['w', 'PUT'],
        ['w', 'DEL'],
      ]);
      expect(decodeJson(seen[1].value)).toBe(2);
    } finally {
      watch.stop();
    }
  });

  it('after its server is killed and restarted, a watch sees new writes again (and those made while it was away)', async () => {
    const writer = await NatsClient.connect({ url: server.url, name: 'kv-bucket-spec-writer' });
    const seen: string[] = [];
    const interruptions: unknown[] = [];
    let resumed = 0;
    const watch = await bucket.watch({
      onChange: (entry) => seen.push(`${entry.key}=${entry.operation === 'PUT' ? decodeJson(entry.value) : '-'}`),
      onInterrupted: (error) => interruptions.push(error),
      onResumed: () => resumed++,
    });
    try {
      const writes = await writer.keyValue('spec', { history: 1 });
      await writes.create('before-kill', encodeJson(1));
      await eventually(() => seen.includes('before-kill=1'), 5_000, 'the write before the kill');

      await server.kill('SIGKILL');
      await server.restart();
      // The writer may reconnect first: this write can land before the watch is back, and must not be lost.
      await writes.create('while-away', encodeJson(2));
      const restarted = Date.now();
      await eventually(() => seen.includes('while-away=2'), 8_000, 'the write made around the restart');
      await writes.create('after-restart', encodeJson(3));
      await eventually(() => seen.includes('after-restart=3'), 5_000, 'the write after the restart');
      // nats.js alone finds a lost consumer only after two missed 5 s heartbeats.
      expect(Date.now() - restarted).toBeLessThan(5_000);
      expect(interruptions.length).toBeGreaterThanOrEqual(1);
      expect(resumed).toBeGreaterThanOrEqual(1);
      expect(seen.filter((change) => change === 'while-away=2')).toHaveLength(1);
    } finally {
      watch.stop();
      await writer.close();
    }
  });

  it('a write made while the server is down completes once it is back', async () => {
    await server.kill('SIGKILL');
    await eventually(() => !client.isConnected(), 5_000, 'the client to see the server gone');
    const write = bucket.create('during-outage', encodeJson('kept'));
    await server.restart();
    const revision = await write;
    expect((await bucket.get('during-outage'))?.revision).toBe(revision);
  });
});
