import { randomBytes } from 'node:crypto';
import { TaskWorkSchema, fabricSubjects, taskRecordKey, taskStorage, type TaskRecord } from '@fabric/contracts';
import { loadConfig } from '@fabric/platform-config';
import { NatsClient, decodeJson } from '@fabric/platform-nats';
import { NatsServerProcess } from '@fabric/platform-nats/testing';
import { ReadinessRegistry } from '@fabric/platform-observability';
import { gatewayEnvSchema, type GatewayEnv } from '../gateway.config';
import { TaskStore } from './task.store';

function record(taskId: string, overrides: Partial<TaskRecord> = {}): TaskRecord {
  const now = new Date().toISOString();
  return {
    taskId,
    service: 'testbed',
    tool: 'long_job',
    publicName: 'testbed_long_job',
    status: 'working',
    createdAt: now,
    lastUpdatedAt: now,
    ttlMs: 60_000,
    pollIntervalMs: 1_000,
    attempt: 0,
    ...overrides,
  };
}

const id = () => randomBytes(16).toString('base64url');

// The gateway's task store on a private nats-server (its bucket and stream go with it).
describe('TaskStore', () => {
  let server: NatsServerProcess;
  let env: GatewayEnv;
  let nats: NatsClient;
  let store: TaskStore;

  beforeAll(async () => {
    server = await NatsServerProcess.start();
    env = loadConfig(gatewayEnvSchema, {
      NATS_URL: server.url,
      FABRIC_NAMESPACE: `t${randomBytes(6).toString('hex')}`,
      LOG_LEVEL: 'silent',
      TASK_SWEEP_MS: '3600000',
    });
    nats = await NatsClient.connect({ url: server.url, name: 'task-store-spec' });
    store = new TaskStore(nats, env, new ReadinessRegistry());
    await store.onApplicationBootstrap();
  });

  afterAll(async () => {
    store?.onApplicationShutdown();
    await nats?.close();
    await server?.stop();
  });

  it('writes a record once: a second create of the same key fails, get reads it back with its revision', async () => {
    const key = taskRecordKey('owner1', id());
    const revision = await store.create(key, record(key.split('.')[1]));
    await expect(store.create(key, record(key.split('.')[1]))).rejects.toThrow();
    expect(await store.get(key)).toMatchObject({ revision, record: { status: 'working' } });
    expect(await store.get(taskRecordKey('owner1', id()))).toBeUndefined();
  });

  it('update is a compare-and-set from the current value, and leaves the record when the change says so', async () => {
    const taskId = id();
    const key = taskRecordKey('owner2', taskId);
    await store.create(key, record(taskId));
    // Two changes at once: neither is lost.
    await Promise.all([
      store.update(key, (current) => ({ ...current, attempt: current.attempt + 1 })),
      store.update(key, (current) => ({ ...current, attempt: current.attempt + 1 })),
    ]);
    expect((await store.get(key))?.record.attempt).toBe(2);
    const kept = await store.update(key, () => undefined);
    expect(kept?.attempt).toBe(2);
    expect(await store.update(taskRecordKey('owner2', id()), (current) => current)).toBeUndefined();
  });

  it('lists the keys of one owner only', async () => {
    const mine = [id(), id()].map((taskId) => taskRecordKey('owner3', taskId));
    for (const key of mine) await store.create(key, record(key.split('.')[1]));
    await store.create(taskRecordKey('owner4', id()), record(id()));
    expect((await store.keys('owner3.')).sort()).toEqual([...mine].sort());
  });

  it('nextChange wakes on the next write of its key (made on another connection), not on other keys', async () => {
    const taskId = id();
    const key = taskRecordKey('owner5', taskId);
    await store.create(key, record(taskId));
    const change = store.nextChange(key);
    let woken = false;
    void change.changed.then(() => (woken = true));
    await store.create(taskRecordKey('owner5', id()), record(id()));
    const other = new TaskStore(nats, env, new ReadinessRegistry());
    await other.onApplicationBootstrap();
    try {
      expect(woken).toBe(false);
      await other.update(key, (current) => ({ ...current, status: 'completed' }));
      await change.changed;
      expect(woken).toBe(true);
    } finally {
      other.onApplicationShutdown();
    }
  });

  it('enqueue puts the work on its service subject once per task id, however often it is sent', async () => {
    const taskId = id();
    const key = taskRecordKey('owner6', taskId);
    const subject = fabricSubjects(env.FABRIC_NAMESPACE).taskWork('testbed');
    const work = {
      recordKey: key,
      request: { id: taskId, operation: 'tools.call' as const, name: 'long_job', deadline: Date.now() + 60_000 },
    };
    await store.enqueue('testbed', work);
    await store.enqueue('testbed', work);
    // The service side, as it opens the queue and takes the work.
    const storage = taskStorage(env.FABRIC_NAMESPACE);
    const queue = await nats.durableStream(storage.stream, storage.streamOptions);
    expect(await queue.messageCount()).toBe(1);
    const consumer = await queue.consumer({ name: 'testbed_tasks', filterSubject: subject, ackWaitMs: 30_000 });
    const [taken] = await consumer.fetch(1, 2_000);
    expect(TaskWorkSchema.parse(decodeJson(taken.data))).toEqual(work);
    await taken.ackConfirmed();
    expect(await queue.messageCount()).toBe(0);
  });

  it('sweep removes the expired records and keeps the others', async () => {
    const live = taskRecordKey('owner7', id());
    const old = taskRecordKey('owner7', id());
    await store.create(live, record(live.split('.')[1]));
    await store.create(
      old,
      record(old.split('.')[1], { createdAt: new Date(Date.now() - 120_000).toISOString(), ttlMs: 60_000 }),
    );
    expect(await store.sweep()).toBeGreaterThanOrEqual(1);
    expect(await store.get(old)).toBeUndefined();
    expect(await store.get(live)).toBeDefined();
    // Again: nothing left to remove of these.
    await store.sweep();
    expect(await store.get(live)).toBeDefined();
  });
});
