import { randomUUID } from 'node:crypto';
import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { Fabric, INITIALIZE, postRaw, textOf } from './support/fabric';
import { AppProcess, eventually } from './support/processes';
import { childPids, isRunning } from './support/process-tree';
import { metricValue } from './support/metrics';

const GRACE_MS = 5_000;

// WORKERS=n runs an app as a primary that forks n worker processes sharing its port; each worker is a
// replica of its own, as if n processes had been started.
describe('WORKERS=2: an app as two worker processes behind one port', () => {
  let fabric: Fabric;
  let testbed: AppProcess;

  beforeAll(async () => {
    fabric = await Fabric.start({
      services: [
        { app: 'testbed-service', env: { WORKERS: '2', INSTANCE_ID: 'bench', SHUTDOWN_GRACE_MS: String(GRACE_MS) } },
      ],
      // At `info` (the default) every request gets an access line with the pid of the worker that answered it.
      gatewayEnv: { WORKERS: '2', LOG_LEVEL: 'info', SHUTDOWN_GRACE_MS: String(GRACE_MS) },
    });
    testbed = fabric.processes.find((process) => process.app === 'testbed-service')!;
  });

  afterAll(async () => {
    await fabric?.stop();
  });

  /** The pids of an app's two workers, once it has two. */
  function workersOf(app: AppProcess, without: number[] = []): Promise<number[]> {
    return eventually(
      () => {
        const pids = childPids(app.child.pid!);
        return pids.length === 2 && pids.every((pid) => !without.includes(pid)) && pids;
      },
      15_000,
      `${app.app} to run two workers`,
    );
  }

  /** The pid of the service worker that answered testbed_stats, or the failure. */
  async function statsPid(client: Client): Promise<number | string> {
    try {
      const result = await client.callTool({ name: 'testbed_stats', arguments: {} });
      return result.isError ? textOf(result) : (result.structuredContent as { pid: number }).pid;
    } catch (error) {
      return String(error);
    }
  }

  /** The text of `/metrics` on a connection of its own, so that the primary hands the scrape to any of its workers. */
  async function scrape(app: AppProcess): Promise<string> {
    return (await fetch(`${app.url}/metrics`, { headers: { connection: 'close' } })).text();
  }

  /** A raw POST on a connection of its own, so that the primary hands it to any of its workers. */
  function postFresh(body: string, headers: Record<string, string> = {}) {
    return postRaw(fabric.mcpUrl, body, { ...headers, connection: 'close' });
  }

  /** Pid of the gateway worker that logged the request with this `x-request-id`. */
  function answeredBy(requestId: string): number | undefined {
    for (const line of fabric.gateway.logs().split('\n')) {
      if (!line.includes(requestId)) continue;
      const entry = JSON.parse(line) as { pid: number; log?: string; req?: string };
      if (entry.log === 'access' && entry.req === requestId) return entry.pid;
    }
    return undefined;
  }

  /** Sends tools/calls of one session, each on a fresh connection, until both gateway workers have answered; all must succeed. */
  async function callOnEveryGatewayWorker(workers: number[]): Promise<void> {
    const init = await postFresh(INITIALIZE);
    expect(init.status).toBe(200);
    const session = { 'mcp-session-id': init.headers.get('mcp-session-id')!, 'mcp-protocol-version': '2025-11-25' };
    expect(
      (await postFresh(JSON.stringify({ jsonrpc: '2.0', method: 'notifications/initialized' }), session)).status,
    ).toBe(202);
    const answered = new Set<number>();
    const failures: string[] = [];
    let calls = 0;
    await eventually(
      async () => {
        const requestId = randomUUID();
        const text = `call ${++calls}`;
        const call = {
          jsonrpc: '2.0',
          id: calls,
          method: 'tools/call',
          params: { name: 'testbed_echo', arguments: { text } },
        };
        const response = await postFresh(JSON.stringify(call), { ...session, 'x-request-id': requestId }).catch(
          (error: unknown) => ({ status: 0, json: String(error) }),
        );
        if (response.status !== 200 || textOf((response.json as { result?: unknown }).result) !== text) {
          failures.push(`${response.status} ${JSON.stringify(response.json)}`);
        } else {
          answered.add(await eventually(() => answeredBy(requestId), 5_000, 'the request log line'));
        }
        return answered.size === 2 && calls >= 10;
      },
      20_000,
      'both gateway workers to answer',
    );
    expect(failures).toEqual([]);
    expect([...answered].sort((a, b) => a - b)).toEqual(workers);
  }

  it('the catalog holds one instance per service worker, named INSTANCE_ID-w<index>-<nonce>', async () => {
    // A gauge is reported per worker (each gateway worker has a catalog of its own).
    const instances = async () =>
      [
        ...(await scrape(fabric.gateway)).matchAll(
          /^fabric_gateway_catalog_instances\{service="testbed",worker="\d"\} (\d+)$/gm,
        ),
      ].map((match) => Number(match[1]));
    await eventually(
      async () => (await instances()).join() === '2,2',
      10_000,
      'two testbed instances in the catalog of both gateway workers',
    );
    await eventually(
      () =>
        /instance bench-w0-[0-9a-f]{6} joined/.test(fabric.gateway.logs()) &&
        /instance bench-w1-[0-9a-f]{6} joined/.test(fabric.gateway.logs()),
    );
  });

  it('tools/call reaches both service workers', async () => {
    const workers = await workersOf(testbed);
    const { client } = await fabric.connect();
    await fabric.waitForTool(client, 'testbed_stats');
    const answers: (number | string)[] = [];
    await eventually(
      async () => answers.push(await statsPid(client)) >= 10 && new Set(answers).size >= 2,
      10_000,
      'calls to reach both workers',
    );
    expect([...new Set(answers)].sort((a, b) => Number(a) - Number(b))).toEqual(workers);
  });

  it('/metrics on the shared port reports the calls of both service workers, summed, and the gauges of each', async () => {
    const workers = await workersOf(testbed);
    const { client } = await fabric.connect();
    await fabric.waitForTool(client, 'testbed_stats');
    const served = () =>
      metricValue(
        testbed.url,
        'fabric_service_calls_total',
        { operation: 'tools.call', name: 'stats', outcome: 'ok' },
        { headers: { connection: 'close' } },
      );
    const before = await served();
    const answers: (number | string)[] = [];
    await eventually(
      async () => answers.push(await statsPid(client)) >= 20 && new Set(answers).size >= 2,
      10_000,
      'calls to reach both workers',
    );
    // Every call succeeded and each worker served some: no single worker's counter holds them all.
    expect([...new Set(answers)].sort((a, b) => Number(a) - Number(b))).toEqual(workers);
    // Each scrape, on a fresh connection, is answered by either worker, and every one sees both.
    const totals = [];
    for (let i = 0; i < 4; i++) totals.push(await served());
    expect(totals).toEqual(Array(4).fill(before + answers.length));
    const inFlight = [...(await scrape(testbed)).matchAll(/^fabric_service_in_flight\{worker="(\d)"\} (\d+)$/gm)];
    expect(inFlight.map((match) => `${match[1]}:${match[2]}`).sort()).toEqual(['0:0', '1:0']);
  });

  it('an MCP session is served by both gateway workers, one request per fresh connection', async () => {
    const workers = await workersOf(fabric.gateway);
    await callOnEveryGatewayWorker(workers);
  });

  it('a service worker killed with SIGKILL is replaced by its primary, and calls keep succeeding', async () => {
    const { client } = await fabric.connect();
    const before = await workersOf(testbed);
    process.kill(before[0], 'SIGKILL');
    const after = await workersOf(testbed, [before[0]]);
    expect(testbed.logs()).toMatch(
      new RegExp(`worker \\d \\(pid ${before[0]}\\) exited with SIGKILL; starting a new one`),
    );
    const replacement = after.find((pid) => pid !== before[1])!;
    const answers: (number | string)[] = [];
    await eventually(
      async () => answers.push(await statsPid(client)) && answers.includes(replacement),
      10_000,
      'the replacement to take calls',
    );
    expect(answers.filter((answer) => !after.includes(answer as number))).toEqual([]);
    // The replacement takes the dead worker's slot under an id of its own, so the gateway cannot mistake one for the other.
    // (Each gateway worker logs every join: the ids are counted once.)
    const joined = () =>
      new Set([...fabric.gateway.logs().matchAll(/instance (bench-w\d-[0-9a-f]{6}) joined/g)].map((match) => match[1]));
    const ids = await eventually(() => joined().size >= 3 && [...joined()], 10_000, 'the replacement to join');
    expect(ids).toHaveLength(3);
    expect(new Set(ids.map((id) => id.slice(0, 'bench-w0'.length))).size).toBe(2);
  });

  it('a gateway worker killed with SIGKILL is replaced by its primary, and the session keeps being served', async () => {
    const before = await workersOf(fabric.gateway);
    process.kill(before[1], 'SIGKILL');
    const after = await workersOf(fabric.gateway, [before[1]]);
    await callOnEveryGatewayWorker(after);
  });

  it('SIGTERM to a primary drains its workers within the grace period: it exits 0 and no worker remains', async () => {
    const workers = [...(await workersOf(fabric.gateway)), ...(await workersOf(testbed))];
    const started = Date.now();
    // AppProcess.stop sends SIGKILL once the grace is over, which would make the exit code null.
    const [gateway, service] = await Promise.all([
      fabric.gateway.stop('SIGTERM', GRACE_MS),
      testbed.stop('SIGTERM', GRACE_MS),
    ]);
    expect({ gateway, service }).toEqual({ gateway: 0, service: 0 });
    expect(Date.now() - started).toBeLessThan(GRACE_MS);
    expect(workers.filter(isRunning)).toEqual([]);
  });
});

describe('WORKERS: start-up failures', () => {
  const started: AppProcess[] = [];

  afterAll(async () => {
    await Promise.all(started.map((app) => app.stop('SIGKILL')));
  });

  async function run(
    app: string,
    env: Record<string, string>,
  ): Promise<{ code: number | null | undefined; logs: string }> {
    const child = await AppProcess.start(app, { FABRIC_NAMESPACE: 'e2eworkers', ...env });
    started.push(child);
    return { code: await child.exit(), logs: child.logs() };
  }

  it('an invalid WORKERS is one line on stderr and exit 1', async () => {
    const { code, logs } = await run('gateway', { WORKERS: 'lots' });
    expect(code).toBe(1);
    expect(logs).toBe('gateway: WORKERS must be a positive integer or "auto", not "lots"\n');
  });

  it('workers that cannot start make the primary exit 1 at once, with their reason, instead of forking again', async () => {
    const { code, logs } = await run('testbed-service', { WORKERS: '2', NATS_URL: 'nats://127.0.0.1:1' });
    expect(code).toBe(1);
    expect(logs).toContain('testbed-service: Cannot reach NATS at nats://127.0.0.1:1');
    expect(logs).toMatch(/testbed-service: worker \d \(pid \d+\) exited with code 1 before it started; stopping\n/);
    expect(logs).not.toContain('starting a new one');
  });
});
