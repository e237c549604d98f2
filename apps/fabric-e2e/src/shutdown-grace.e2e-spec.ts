import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import { Fabric, textOf } from './support/fabric';
import { metricValue } from './support/metrics';
import { eventually, type AppProcess } from './support/processes';

// Two replicas with a short shutdown grace: a replica stopped (SIGTERM) while it runs a call longer than its
// grace aborts that call at the deadline; the gateway runs it again on the other replica when it is read-only.
describe('calls outliving the shutdown grace of their replica', () => {
  const grace = { SHUTDOWN_GRACE_MS: '300' };
  let fabric: Fabric;
  let client: Client;

  beforeAll(async () => {
    fabric = await Fabric.start({ services: [{ app: 'testbed-service', replicas: 2, env: grace }] });
    ({ client } = await fabric.connect());
    await fabric.waitForTool(client, 'testbed_slow_write');
  });

  afterAll(async () => {
    await fabric?.stop();
  });

  const call = (name: string, args: Record<string, unknown>) =>
    client.callTool({ name, arguments: args }) as Promise<CallToolResult>;
  const retriedAfterStop = () =>
    metricValue(fabric.gateway.url, 'fabric_gateway_service_call_retries_total', { reason: 'replica_stopped' });
  /** The replica running the one call in flight. */
  const holder = () =>
    eventually(
      async () => {
        for (const replica of fabric.replicas('testbed-service'))
          if ((await metricValue(replica.url, 'fabric_service_in_flight')) === 1) return replica;
        return undefined;
      },
      5_000,
      'a replica to run the call',
    );

  it('a read-only call aborted at the grace deadline of its stopping replica succeeds on the other replica', async () => {
    const retriedBefore = await retriedAfterStop();
    const started = call('testbed_slow_read', { ms: 2_000 });
    const victim: AppProcess = await holder();
    const survivor = fabric.replicas('testbed-service').find((replica) => replica !== victim)!;

    expect(await victim.stop('SIGTERM')).toBe(0);
    const result = await started;
    expect(result.isError).toBeFalsy();
    expect(textOf(result)).toBe(`read by ${survivor.child.pid}`);
    expect(await retriedAfterStop()).toBe(retriedBefore + 1);
    expect(await metricValue(fabric.gateway.url, 'fabric_gateway_circuit_open')).toBe(0);
    await fabric.startService('testbed-service', grace);
  });

  it('a write aborted at the grace deadline fails, saying its outcome is unknown, and is not run again', async () => {
    const retriedBefore = await retriedAfterStop();
    const started = call('testbed_slow_write', { ms: 2_000 });
    const victim = await holder();

    expect(await victim.stop('SIGTERM')).toBe(0);
    const result = await started;
    expect(result.isError).toBe(true);
    expect(textOf(result)).toMatch(/stopped before answering: the outcome is unknown and the call may be retried/);
    expect(await retriedAfterStop()).toBe(retriedBefore);
    await fabric.startService('testbed-service', grace);
  });
});
