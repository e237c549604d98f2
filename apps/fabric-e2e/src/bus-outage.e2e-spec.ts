import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import { Fabric, textOf } from './support/fabric';
import { metricValue } from './support/metrics';
import { NatsServer } from './support/nats-server';
import { eventually } from './support/processes';

// A gateway cut off from NATS (its server killed, later started again on the same port and store): calls
// fail at once with a retryable error instead of waiting for their deadlines, no service is blamed for it,
// and calls work again once the gateway is back on the bus.
describe('a gateway that lost its NATS connection', () => {
  let nats: NatsServer;
  let fabric: Fabric;
  let client: Client;

  beforeAll(async () => {
    nats = await NatsServer.start();
    fabric = await Fabric.start({
      natsUrl: nats.url,
      // Beats close together (500 ms): the outage outlasts three of them, and the catalog must keep the service
      // anyway, since the silence is the gateway's own.
      services: [{ app: 'testbed-service' }],
      // A breaker that the outage's failures would open, and keep open, were they counted against the service.
      gatewayEnv: { BREAKER_MIN_CALLS: '3', BREAKER_RESET_MS: '600000', TOOL_TIMEOUT_MS: '5000' },
    });
    ({ client } = await fabric.connect());
    await fabric.waitForTool(client, 'testbed_slow_read');
  });

  afterAll(async () => {
    await fabric?.stop();
    await nats?.stop();
  });

  const call = (name: string, args: Record<string, unknown>) =>
    client.callTool({ name, arguments: args }) as Promise<CallToolResult>;
  const gatewayMetric = (name: string) => metricValue(fabric.gateway.url, name);

  it('tools/call fails at once with a retryable UNAVAILABLE while NATS is down, opens no breaker, and works again when NATS is back', async () => {
    expect(textOf(await call('testbed_echo', { text: 'before' }))).toBe('before');
    const running = call('testbed_slow_read', { ms: 3_000 });
    const testbed = fabric.replicas('testbed-service')[0];
    await eventually(
      async () => (await metricValue(testbed.url, 'fabric_service_in_flight')) === 1,
      5_000,
      'the call to run',
    );

    await nats.kill('SIGKILL');
    await eventually(
      async () => (await (await fetch(`${fabric.gateway.url}/readyz`)).text()).includes('NATS is not connected'),
      5_000,
      'the gateway to see its connection down',
    );
    for (let i = 0; i < 10; i++) {
      const started = Date.now();
      const result = await call('testbed_echo', { text: `during ${i}` });
      // About the second it waits for the connection to come back, not the call's 5 s deadline.
      expect(Date.now() - started).toBeLessThan(3_000);
      expect(result.isError).toBe(true);
      expect(textOf(result)).toMatch(/^The gateway has lost its connection to the bus .*\(retryable\)$/);
    }
    // The call running when the bus went away: its reply was lost; at its deadline it says why.
    const interrupted = await running;
    expect(interrupted.isError).toBe(true);
    expect(textOf(interrupted)).toMatch(/lost its connection to the bus while the call was running.*\(retryable\)$/);
    // None of the outage's failures is the service's.
    expect(await gatewayMetric('fabric_gateway_service_call_failures_total')).toBe(0);

    await nats.restart();
    await eventually(
      async () => textOf(await call('testbed_echo', { text: 'after' })) === 'after',
      15_000,
      'calls to work again',
    );
    expect(await gatewayMetric('fabric_gateway_circuit_open')).toBe(0);
  });
});
