import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import { Fabric, textOf } from './support/fabric';
import { steadyLoad } from './support/load';
import { metricValue } from './support/metrics';
import { Nginx } from './support/nginx';
import { eventually, type AppProcess } from './support/processes';

const sum = (values: number[]) => values.reduce((a, b) => a + b, 0);

// Two gateways behind real nginx running the shipped policy (docker/nginx/mcp-proxy.conf: re-send a request
// whose gateway failed before answering, POST included), two replicas of the testbed service. A gateway
// killed mid-call: nginx re-sends its POSTs to the other gateway, which sends the same idempotency key, and
// the service answers each repeat with its first execution's outcome instead of running it again.
describe('a gateway crash behind the shipped load-balancer policy', () => {
  let fabric: Fabric;
  let nginx: Nginx;
  const clients: Client[] = [];

  beforeAll(async () => {
    fabric = await Fabric.start({ gateways: 2, services: [{ app: 'testbed-service', replicas: 2 }] });
    nginx = await Nginx.start(fabric.gateways.map((gateway) => gateway.url));
  });

  afterAll(async () => {
    await Promise.all(clients.map((client) => client.close().catch(() => undefined)));
    await nginx?.stop();
    await fabric?.stop();
  });

  async function connect(): Promise<Client> {
    const client = new Client({ name: 'gateway-crash', version: '1.0.0' }, { capabilities: {} });
    await client.connect(new StreamableHTTPClientTransport(new URL(`${nginx.url}/mcp`)));
    clients.push(client);
    return client;
  }

  const inFlight = (replicas: AppProcess[]) =>
    Promise.all(replicas.map((replica) => metricValue(replica.url, 'fabric_service_in_flight'))).then(sum);

  /** Each testbed replica's tally by pid, asked through the fabric until every replica has answered. */
  async function talliesOf(client: Client, replicas: number): Promise<Map<number, number>> {
    const tallies = new Map<number, number>();
    await eventually(
      async () => {
        const stats = (await client.callTool({ name: 'testbed_stats', arguments: {} })).structuredContent as {
          pid: number;
          tally: number;
        };
        tallies.set(stats.pid, stats.tally);
        return tallies.size === replicas;
      },
      15_000,
      'every testbed replica to report its tally',
    );
    return tallies;
  }

  it('a SIGKILLed gateway loses no call, and a non-idempotent counter counts each answered call exactly once', async () => {
    const sessions = await Promise.all(Array.from({ length: 6 }, connect));
    await fabric.waitForTool(sessions[0], 'testbed_slow_bump');
    const testbeds = fabric.replicas('testbed-service');
    const answers: string[] = [];
    const load = steadyLoad(
      async (n) => {
        const session = sessions[n % sessions.length];
        const result = (await session.callTool({
          name: 'testbed_slow_bump',
          arguments: { ms: 400 },
        })) as CallToolResult;
        if (!result.isError) answers.push(textOf(result));
        return result;
      },
      { concurrency: 24 },
    );

    // Mid-flight: the services run calls that came through both gateways (nginx alternates between them).
    await eventually(
      async () => load.report().ok >= 24 && (await inFlight(testbeds)) >= 16,
      20_000,
      'calls in flight through both gateways',
    );
    await fabric.gateways[0].stop('SIGKILL');
    const okAtKill = load.report().ok;
    await eventually(() => load.report().ok >= okAtKill + 48, 20_000, 'calls to go on through the other gateway');
    const report = await load.stop();

    expect(report.failures).toEqual([]);
    // It was put to the test: nginx re-sent POSTs of the dead gateway, and the services recognised them.
    const resent = (await nginx.requests()).filter(
      (request) => request.method === 'POST' && request.upstreams.length > 1 && request.status === 200,
    );
    expect(resent.length).toBeGreaterThan(0);
    const repeats = sum(
      await Promise.all(
        testbeds.map((replica) =>
          metricValue(replica.url, 'fabric_service_repeated_calls_total', { name: 'slow_bump' }),
        ),
      ),
    );
    expect(repeats).toBeGreaterThan(0);

    // Exactly once: every replica's tally is the number of answers it gave, numbered 1..tally, none twice.
    const tallies = await talliesOf(sessions[0], testbeds.length);
    const answered = new Map<number, number[]>();
    for (const answer of answers) {
      const [, tally, pid] = /^tally (\d+) by (\d+)$/.exec(answer) ?? [];
      answered.set(Number(pid), [...(answered.get(Number(pid)) ?? []), Number(tally)]);
    }
    for (const [pid, tally] of tallies) {
      expect((answered.get(pid) ?? []).sort((a, b) => a - b)).toEqual(Array.from({ length: tally }, (_, i) => i + 1));
    }
    expect(sum([...tallies.values()])).toBe(report.ok);
    expect(report.ok).toBe(answers.length);
  });
});
