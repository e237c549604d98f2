import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import { Fabric, textOf } from './support/fabric';
import { steadyLoad } from './support/load';
import { metricValue } from './support/metrics';
import { eventually } from './support/processes';

// Three replicas of a service behind two gateways (round-robin proxy): the queue group spreads the load,
// a rolling restart loses nothing, and a replica killed mid-call costs no read-only call.
describe('service replicas', () => {
  let fabric: Fabric;
  let client: Client;

  beforeAll(async () => {
    fabric = await Fabric.start({
      gateways: 2,
      services: [{ app: 'testbed-service', replicas: 3, env: { SHUTDOWN_GRACE_MS: '5000' } }],
    });
    ({ client } = await fabric.connect());
  });

  afterAll(async () => {
    await fabric?.stop();
  });

  const call = (name: string, args: Record<string, unknown>) =>
    client.callTool({ name, arguments: args }) as Promise<CallToolResult>;
  const testbeds = () => fabric.replicas('testbed-service');
  const pidOf = (result: CallToolResult) => Number(/by (\d+)/.exec(textOf(result))?.[1]);
  const inFlight = (replica: { url: string }) => metricValue(replica.url, 'fabric_service_in_flight');
  const gatewaysSum = async (name: string, labels: Record<string, string> = {}) =>
    (await Promise.all(fabric.gateways.filter((g) => g.running).map((g) => metricValue(g.url, name, labels)))).reduce(
      (a, b) => a + b,
      0,
    );

  it('calls spread over every live replica', async () => {
    const results = await Promise.all(Array.from({ length: 60 }, () => call('testbed_slow_read', { ms: 20 })));
    const pids = new Set(results.map(pidOf));
    expect([...pids].sort()).toEqual(
      testbeds()
        .map((replica) => replica.child.pid)
        .sort(),
    );
  });

  it('restarting every replica one by one under steady load fails no call, writes included', async () => {
    const load = steadyLoad((n) => call(n % 2 ? 'testbed_slow_read' : 'testbed_slow_write', { ms: 40 }), {
      concurrency: 8,
    });
    for (const replica of testbeds()) {
      const okBefore = load.report().ok;
      expect(await replica.stop('SIGTERM')).toBe(0);
      await fabric.startService('testbed-service', { SHUTDOWN_GRACE_MS: '5000' });
      await eventually(() => load.report().ok > okBefore + 30, 15_000, 'calls to keep succeeding');
    }
    const report = await load.stop();
    expect(report.failures).toEqual([]);
    expect(testbeds()).toHaveLength(3);
  });

  it('a replica killed while running read-only calls costs none of them: they are retried on another replica', async () => {
    const retriesBefore = await gatewaysSum('fabric_gateway_service_call_retries_total', { reason: 'replica_lost' });
    const victim = testbeds()[0];
    const calls = Array.from({ length: 30 }, () => call('testbed_slow_read', { ms: 1_500 }));
    await eventually(async () => (await inFlight(victim)) >= 5, 5_000, 'the victim to hold calls');
    await victim.stop('SIGKILL');
    const results = await Promise.all(calls);
    expect(results.filter((result) => result.isError).map(textOf)).toEqual([]);
    expect(new Set(results.map(pidOf)).has(victim.child.pid!)).toBe(false);
    expect(
      await gatewaysSum('fabric_gateway_service_call_retries_total', { reason: 'replica_lost' }),
    ).toBeGreaterThanOrEqual(retriesBefore + 5);
    await fabric.startService('testbed-service', { SHUTDOWN_GRACE_MS: '5000' });
  });

  it('a replica killed while running writes fails them quickly, saying the outcome is unknown and they may be retried', async () => {
    const victim = testbeds()[0];
    const started = Date.now();
    const calls = Array.from({ length: 30 }, () =>
      call('testbed_slow_write', { ms: 6_000 }).then((result) => ({ result, at: Date.now() - started })),
    );
    await eventually(async () => (await inFlight(victim)) >= 5, 5_000, 'the victim to hold calls');
    const killedAt = Date.now() - started;
    await victim.stop('SIGKILL');
    const results = await Promise.all(calls);
    const failed = results.filter(({ result }) => result.isError);
    expect(failed.length).toBeGreaterThanOrEqual(5);
    for (const { result, at } of failed) {
      expect(textOf(result)).toMatch(/outcome is unknown and the call may be retried/);
      expect(at - killedAt).toBeLessThan(4_000); // detected in about a second, long before the 6 s the call takes
    }
    for (const { result } of results.filter(({ result }) => !result.isError))
      expect(pidOf(result)).not.toBe(victim.child.pid);
    await fabric.startService('testbed-service', { SHUTDOWN_GRACE_MS: '5000' });
  });
});
