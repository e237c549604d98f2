import { NatsClient } from '@fabric/platform-nats';
import { TaskQueueFixture } from '@fabric/platform-nats/testing';
import { Fabric } from './support/fabric';
import { metricValue } from './support/metrics';
import { eventually, type AppProcess } from './support/processes';

// The service side of MCP tasks with real processes: the work is put on the queue as the gateway puts it
// (TaskQueueFixture), and the replicas of the testbed service take it from their shared durable consumer.
describe('MCP tasks on service replicas', () => {
  let fabric: Fabric;
  let nats: NatsClient;
  let queue: TaskQueueFixture;

  beforeAll(async () => {
    fabric = await Fabric.start({
      gateways: 0,
      // A short ack wait: a dead replica's task restarts this soon after its last report.
      services: [{ app: 'testbed-service', replicas: 2, env: { TASK_ACK_WAIT_MS: '1500' } }],
    });
    nats = await NatsClient.connect({ url: process.env['NATS_URL'] ?? 'nats://127.0.0.1:4222', name: 'task-e2e' });
    queue = await TaskQueueFixture.open(nats, fabric.namespace);
  });

  afterAll(async () => {
    await nats?.close();
    // Also removes the namespace's task stream and bucket.
    await fabric?.stop();
  });

  /** The replica whose metrics say it works a task now. */
  const working = (replicas: AppProcess[]) =>
    eventually(
      async () => {
        for (const replica of replicas) {
          if ((await metricValue(replica.url, 'fabric_service_tasks_running')) === 1) return replica;
        }
        return undefined;
      },
      10_000,
      'a replica to work the task',
    );

  it('a cancelled task stops its handler at once and stays cancelled', async () => {
    const replicas = fabric.replicas('testbed-service');
    // 100 steps of 200 ms: it would run for 20 s.
    const task = await queue.submit('testbed', 'long_job', { arguments: { steps: 100, ms: 200 } });
    await eventually(async () => (await queue.record(task))?.attempt === 1, 10_000, 'the task to start');
    const worker = await working(replicas);
    await queue.cancel(task, 'testbed');
    await eventually(
      async () => (await metricValue(worker.url, 'fabric_service_tasks_total', { outcome: 'cancelled' })) === 1,
      3_000,
      'the handler to stop',
    );
    expect(await metricValue(worker.url, 'fabric_service_tasks_running')).toBe(0);
    expect(await queue.record(task)).toMatchObject({ status: 'cancelled', attempt: 1 });
  });

  it('a task completes on the other replica after the one working it is SIGKILLed, as attempt 2', async () => {
    const replicas = fabric.replicas('testbed-service');
    const task = await queue.submit('testbed', 'long_job', { arguments: { steps: 20, ms: 200 }, ttlMs: 120_000 });
    await eventually(async () => (await queue.record(task))?.attempt === 1, 10_000, 'the first run to start');
    const victim = await working(replicas);
    const survivor = replicas.find((replica) => replica !== victim)!;

    await victim.stop('SIGKILL');

    const record = await eventually(
      async () => {
        const current = await queue.record(task);
        return current?.status === 'completed' || current?.status === 'failed' ? current : undefined;
      },
      30_000,
      'the task to end',
    );
    expect(record).toMatchObject({
      status: 'completed',
      attempt: 2,
      outcome: {
        ok: true,
        result: {
          content: [
            { type: 'text', text: `done 20 steps by ${survivor.child.pid}` },
            { type: 'text', text: 'attempt 2' },
          ],
        },
      },
    });
    expect(await metricValue(survivor.url, 'fabric_service_tasks_total', { outcome: 'completed' })).toBe(1);
  });
});
