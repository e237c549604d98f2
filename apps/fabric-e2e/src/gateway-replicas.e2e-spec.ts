import { Fabric, INITIALIZE, postRaw, textOf } from './support/fabric';
import { steadyLoad } from './support/load';
import { metricValue } from './support/metrics';
import { eventually } from './support/processes';

// Two gateway replicas behind a plain round-robin proxy serve one MCP session together: no stickiness,
// no owner replica. Killing or restarting a replica leaves the session usable.
describe('gateway replicas behind a round-robin proxy', () => {
  let fabric: Fabric;

  beforeAll(async () => {
    fabric = await Fabric.start({
      gateways: 2,
      services: [{ app: 'testbed-service' }],
      gatewayEnv: { SHUTDOWN_GRACE_MS: '5000', DRAIN_DELAY_MS: '400' },
    });
  });

  afterAll(async () => {
    await fabric?.stop();
  });

  const echo = (text: string) => ({ name: 'testbed_echo', arguments: { text } });

  it('one session is served by both gateways, without a new initialize', async () => {
    const { client } = await fabric.connect();
    const before = new Map(fabric.proxy!.served);
    for (let i = 0; i < 10; i++) expect(textOf(await client.callTool(echo(`call ${i}`)))).toBe(`call ${i}`);
    for (const gateway of fabric.gateways) {
      expect((fabric.proxy!.served.get(gateway.url) ?? 0) - (before.get(gateway.url) ?? 0)).toBeGreaterThanOrEqual(4);
    }
  });

  it('a gateway killed mid-session leaves the session usable on the other', async () => {
    const { client } = await fabric.connect();
    expect(textOf(await client.callTool(echo('before')))).toBe('before');
    const victim = fabric.gateways.find((gateway) => gateway.running)!;
    await victim.stop('SIGKILL');
    for (let i = 0; i < 6; i++) expect(textOf(await client.callTool(echo(`after ${i}`)))).toBe(`after ${i}`);
    await fabric.startGateway();
  });

  it('SIGTERM drains a gateway: the call it holds finishes, new connections go elsewhere, then it exits 0', async () => {
    const gateway = fabric.gateways.filter((replica) => replica.running).at(-1)!;
    const init = await postRaw(`${gateway.url}/mcp`, INITIALIZE);
    const headers = { 'mcp-session-id': init.headers.get('mcp-session-id')!, 'mcp-protocol-version': '2025-11-25' };
    await postRaw(
      `${gateway.url}/mcp`,
      JSON.stringify({ jsonrpc: '2.0', method: 'notifications/initialized' }),
      headers,
    );
    const service = fabric.replicas('testbed-service')[0];
    const inFlight = () => metricValue(service.url, 'fabric_service_in_flight');

    const call = postRaw(
      `${gateway.url}/mcp`,
      JSON.stringify({
        jsonrpc: '2.0',
        id: 2,
        method: 'tools/call',
        params: { name: 'testbed_sleep', arguments: { ms: 800 } },
      }),
      headers,
    );
    await eventually(async () => (await inFlight()) === 1, 5_000, 'the call to reach the service');
    const exited = gateway.stop('SIGTERM');
    // During the drain delay it still answers, reports not ready, and opens no new GET stream.
    await eventually(async () => (await fetch(`${gateway.url}/readyz`)).status === 503, 5_000, 'readiness to fail');
    const stream = await fetch(`${gateway.url}/mcp`, { headers: { ...headers, accept: 'text/event-stream' } });
    expect(stream.status).toBe(503);
    await eventually(
      () =>
        fetch(`${gateway.url}/healthz`).then(
          () => false,
          () => true,
        ),
      5_000,
      'the gateway to stop accepting',
    );

    const answer = await call;
    expect(answer.status).toBe(200);
    expect(textOf((answer.json as { result: unknown }).result)).toBe('slept 800 ms');
    expect(await exited).toBe(0);
    await fabric.startGateway();
  });

  it('restarting every gateway one by one under steady load fails no call', async () => {
    const { client } = await fabric.connect();
    const load = steadyLoad((n) => client.callTool(echo(`load ${n}`)), {
      concurrency: 4,
      expectText: (n) => `load ${n}`,
    });
    for (const gateway of fabric.gateways.filter((replica) => replica.running)) {
      const okBefore = load.report().ok;
      expect(await gateway.stop('SIGTERM')).toBe(0);
      await fabric.startGateway();
      await eventually(() => load.report().ok > okBefore + 20, 10_000, 'calls to keep succeeding');
    }
    const report = await load.stop();
    expect(report.failures).toEqual([]);
    expect(report.ok).toBeGreaterThan(40);
  });
});
