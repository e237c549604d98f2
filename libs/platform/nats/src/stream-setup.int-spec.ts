import { NatsClient } from './nats-client';
import { JetStreamReplicasError } from './nats.errors';
import { NatsServerCluster, NatsServerProcess, eventually } from './testing';

describe('JETSTREAM_REPLICAS on a single server', () => {
  let server: NatsServerProcess;
  let client: NatsClient;

  beforeAll(async () => {
    server = await NatsServerProcess.start();
    client = await NatsClient.connect({ url: server.url, name: 'replicas-single', jetstreamReplicas: 3 });
  });

  afterAll(async () => {
    await client?.close();
    await server?.stop();
  });

  it('3 replicas fail with a JetStreamReplicasError that names the setting, and create nothing', async () => {
    const bucket = await client.keyValue('single', { history: 1 }).catch((error: unknown) => error);
    expect(bucket).toBeInstanceOf(JetStreamReplicasError);
    expect((bucket as Error).message).toMatch(
      /^JETSTREAM_REPLICAS=3, but stream KV_single cannot have 3 replicas: .*single server/,
    );
    const stream = await client.retainedStream('single_sse', ['single.>'], 60_000).catch((error: unknown) => error);
    expect(stream).toBeInstanceOf(JetStreamReplicasError);
    expect((await server.jetStream()).streams).toBe(0);
  });
});

describe('JETSTREAM_REPLICAS in a 3-node cluster', () => {
  let cluster: NatsServerCluster;

  beforeAll(async () => {
    cluster = await NatsServerCluster.start(3);
  });

  afterAll(async () => {
    await cluster?.stop();
  });

  it('a bucket and a stream made with 1 replica are moved to 3, with one notice each', async () => {
    const before = await NatsClient.connect({ url: cluster.url, name: 'replicas-1' });
    await before.keyValue('moved', { history: 1, ttlMs: 60_000 });
    await before.retainedStream('moved_sse', ['moved.>'], 60_000);
    await before.close();

    const notices: string[] = [];
    const after = await NatsClient.connect({
      url: cluster.url,
      name: 'replicas-3',
      jetstreamReplicas: 3,
      onNotice: (message) => notices.push(message),
    });
    try {
      await after.keyValue('moved', { history: 1, ttlMs: 60_000 });
      await after.retainedStream('moved_sse', ['moved.>'], 60_000);
      expect(notices).toEqual([
        'JetStream stream KV_moved: 1 -> 3 replicas (JETSTREAM_REPLICAS)',
        'JetStream stream moved_sse: 1 -> 3 replicas (JETSTREAM_REPLICAS)',
      ]);
      const jsm = await after.connection.jetstreamManager();
      for (const name of ['KV_moved', 'moved_sse']) {
        expect((await jsm.streams.info(name)).config.num_replicas).toBe(3);
        // A leader and two current followers, once the new replicas caught up.
        await eventually(
          async () => {
            const { cluster } = await jsm.streams.info(name);
            return !!cluster?.leader && cluster.replicas?.filter((replica) => replica.current).length === 2;
          },
          10_000,
          `${name} to have 3 current replicas`,
        );
      }
      // Opened again at the same count: nothing to change, nothing said.
      await after.keyValue('moved', { history: 1, ttlMs: 60_000 });
      expect(notices).toHaveLength(2);
    } finally {
      await after.close();
    }
  });

  it('more replicas than servers fail with a JetStreamReplicasError', async () => {
    const client = await NatsClient.connect({ url: cluster.url, name: 'replicas-5', jetstreamReplicas: 5 });
    try {
      const error = await client.keyValue('five').catch((caught: unknown) => caught);
      expect(error).toBeInstanceOf(JetStreamReplicasError);
      expect((error as Error).message).toMatch(/JETSTREAM_REPLICAS=5.*no suitable peers/);
    } finally {
      await client.close();
    }
  });
});
