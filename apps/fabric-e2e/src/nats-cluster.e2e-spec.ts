import { connect, type JetStreamManager, type NatsConnection } from 'nats';
import { NatsServerCluster, type NatsServerProcess } from '@fabric/platform-nats/testing';
import { Fabric, textOf } from './support/fabric';
import { steadyLoad } from './support/load';
import { eventually, type AppProcess } from './support/processes';

// The fabric on a 3-node JetStream cluster with JETSTREAM_REPLICAS=3: sessions (KV) and SSE events (stream)
// are kept on every node, and apps list all three servers in NATS_URL. Losing any one node, even the one the
// gateways are connected to, fails no call: clients reconnect to another node and a new stream leader is
// elected for what the dead node led.
describe('NATS node loss in a 3-node JetStream cluster', () => {
  let cluster: NatsServerCluster;
  let fabric: Fabric;
  let observer: NatsConnection;
  let jsm: JetStreamManager;

  beforeAll(async () => {
    cluster = await NatsServerCluster.start(3);
    fabric = await Fabric.start({
      natsUrl: cluster.url,
      env: { JETSTREAM_REPLICAS: '3' },
      gateways: 2,
      services: [{ app: 'testbed-service', replicas: 2 }],
    });
    observer = await connect({ servers: cluster.url.split(','), maxReconnectAttempts: -1, reconnectTimeWait: 100 });
    jsm = await observer.jetstreamManager();
  });

  afterAll(async () => {
    await observer?.close();
    await fabric?.stop();
    await cluster?.stop();
  });

  const echo = (text: string) => ({ name: 'testbed_echo', arguments: { text } });
  const streams = () => [`KV_${fabric.namespace}_sessions`, `${fabric.namespace}_sse`];

  /** True once the stream has a leader and two current followers (all three nodes hold it). */
  async function fullyReplicated(stream: string): Promise<boolean> {
    const { config, cluster: placement } = await jsm.streams.info(stream);
    const current = placement?.replicas?.filter((replica) => replica.current && !replica.offline) ?? [];
    return config.num_replicas === 3 && !!placement?.leader && current.length === 2;
  }

  /** The node holding the NATS connection of an app (named `<app>@<host>/<pid>`). */
  async function nodeOf(app: AppProcess): Promise<NatsServerProcess> {
    for (const node of cluster.nodes.filter((candidate) => candidate.running)) {
      const names = await node.clientNames();
      if (names.some((name) => name.startsWith(`${app.app}@`) && name.endsWith(`/${app.child.pid}`))) return node;
    }
    throw new Error(`${app.app} (pid ${app.child.pid}) is connected to no node`);
  }

  /** The node leading the session bucket's stream. */
  async function sessionsLeader(): Promise<NatsServerProcess> {
    return cluster.node((await jsm.streams.info(streams()[0])).cluster?.leader ?? '');
  }

  it('the session bucket and the SSE event stream are kept on all three nodes', async () => {
    for (const stream of streams()) await eventually(() => fullyReplicated(stream), 10_000, `${stream} on 3 nodes`);
  });

  it('killing a node under load (the one a gateway uses, the sessions leader, the one a service uses) fails no call', async () => {
    const sessions = await Promise.all(Array.from({ length: 4 }, (_, i) => fabric.connect(`load-${i}`)));
    const loads = sessions.map(({ client }, i) =>
      steadyLoad((n) => client.callTool(echo(`s${i} ${n}`)), { concurrency: 2, expectText: (n) => `s${i} ${n}` }),
    );
    const ok = () => loads.reduce((sum, load) => sum + load.report().ok, 0);
    const stopLoads = () => Promise.all(loads.map((load) => load.stop()));
    try {
      await eventually(() => ok() > 100, 10_000, 'the load to run');
      const victims = [
        () => nodeOf(fabric.gateways[0]),
        sessionsLeader,
        () => nodeOf(fabric.replicas('testbed-service')[0]),
      ];
      for (const pick of victims) {
        const victim = await eventually(pick, 5_000, 'the node to kill');
        const okBefore = ok();
        await victim.kill('SIGKILL');

        // While it is down: calls go on, and a new session is initialized and used.
        const { client } = await fabric.connect(`while-${victim.name}-down`);
        expect(textOf(await client.callTool(echo('while down')))).toBe('while down');
        await eventually(() => ok() > okBefore + 200, 15_000, `calls to keep succeeding without ${victim.name}`);

        await victim.restart();
        for (const stream of streams()) {
          await eventually(() => fullyReplicated(stream), 15_000, `${stream} on 3 nodes after ${victim.name} rejoined`);
        }
        expect(await cluster.metaLeader()).toBeTruthy();
      }
    } catch (error) {
      // No call may outlive the fabric.
      await stopLoads();
      throw error;
    }
    const reports = await stopLoads();
    expect(reports.flatMap((report) => report.failures)).toEqual([]);
    expect(reports.every((report) => report.ok > 100)).toBe(true);
  });
});
