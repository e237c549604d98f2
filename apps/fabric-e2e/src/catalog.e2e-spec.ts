import {
  PromptListChangedNotificationSchema,
  ResourceListChangedNotificationSchema,
  ToolListChangedNotificationSchema,
} from '@modelcontextprotocol/sdk/types.js';
import { Fabric, listAllTools, textOf } from './support/fabric';
import { eventually } from './support/processes';

// The catalog is built at run time from live services: clients hear when services join and leave,
// and draining replicas finish what they hold.
describe('catalog and discovery', () => {
  let fabric: Fabric;

  beforeAll(async () => {
    fabric = await Fabric.start({ services: [{ app: 'testbed-service' }] });
  });

  afterAll(async () => {
    await fabric?.stop();
  });

  it('connected clients get tools/list_changed (and prompts and resources) when a service joins and when it leaves', async () => {
    const { client } = await fabric.connect();
    let changes = 0;
    let promptChanges = 0;
    let resourceChanges = 0;
    client.setNotificationHandler(ToolListChangedNotificationSchema, () => {
      changes++;
    });
    client.setNotificationHandler(PromptListChangedNotificationSchema, () => {
      promptChanges++;
    });
    client.setNotificationHandler(ResourceListChangedNotificationSchema, () => {
      resourceChanges++;
    });
    await fabric.waitForTool(client, 'testbed_echo');
    // The GET stream that carries notifications opens right after initialize.
    await eventually(async () => (await fetch(`${fabric.gateway.url}/metrics`)).ok, 2_000);

    const extra = await fabric.startService('testbed-service', { TESTBED_SERVICE_NAME: 'extra' });
    await eventually(
      () => changes >= 1 && promptChanges >= 1 && resourceChanges >= 1,
      10_000,
      'list_changed after the join',
    );
    expect(await listAllTools(client)).toContain('extra_echo');
    expect((await client.listPrompts()).prompts.map((prompt) => prompt.name)).toContain('extra_greet');

    const joined = changes;
    await extra.stop('SIGTERM');
    await eventually(() => changes > joined, 10_000, 'list_changed after the leave');
    expect(await listAllTools(client)).not.toContain('extra_echo');
  });

  it('the gateway reports liveness, readiness (NATS, catalog, sessions) and Prometheus metrics', async () => {
    expect((await fetch(`${fabric.gateway.url}/healthz`)).status).toBe(200);
    const ready = (await (await fetch(`${fabric.gateway.url}/readyz`)).json()) as {
      status: string;
      info: Record<string, unknown>;
    };
    expect(ready.status).toBe('ok');
    expect(Object.keys(ready.info)).toEqual(expect.arrayContaining(['nats', 'catalog', 'sessions']));
    const { client } = await fabric.connect();
    await client.callTool({ name: 'testbed_echo', arguments: { text: 'count me' } });
    const metrics = await (await fetch(`${fabric.gateway.url}/metrics`)).text();
    expect(metrics).toMatch(/fabric_gateway_tool_calls_total\{tool="testbed_echo",outcome="ok"\} [1-9]/);
    expect(metrics).toContain('fabric_gateway_tool_call_seconds_bucket');
    expect(metrics).toContain('process_resident_memory_bytes');
  });

  it('an instance that stops beating (SIGKILL) leaves the catalog', async () => {
    const { client } = await fabric.connect();
    const doomed = await fabric.startService('testbed-service', { TESTBED_SERVICE_NAME: 'doomed' });
    await fabric.waitForTool(client, 'doomed_echo');
    await doomed.stop('SIGKILL');
    await fabric.waitForTool(client, 'doomed_echo', false);
  });

  it('tools/list is paginated with an opaque cursor', async () => {
    const paged = await fabric.startApp('gateway', { LIST_PAGE_SIZE: '2', DISCOVERY_WAIT_MS: '500' });
    const { Client } = await import('@modelcontextprotocol/sdk/client/index.js');
    const { StreamableHTTPClientTransport } = await import('@modelcontextprotocol/sdk/client/streamableHttp.js');
    const client = new Client({ name: 'pages', version: '1' });
    await client.connect(new StreamableHTTPClientTransport(new URL(`${paged.url}/mcp`)));
    try {
      await eventually(async () => (await listAllTools(client)).includes('testbed_stats'), 10_000);
      const first = await client.listTools();
      expect(first.tools).toHaveLength(2);
      expect(first.nextCursor).toEqual(expect.any(String));
      const all = await listAllTools(client);
      expect(all.length).toBeGreaterThan(2);
      expect(new Set(all).size).toBe(all.length);
      await expect(client.listTools({ cursor: 'not-a-cursor' })).rejects.toMatchObject({ code: -32602 });
    } finally {
      await client.close();
    }
  });

  it('a replica that gets SIGTERM finishes the call it holds before it exits', async () => {
    const { client } = await fabric.connect();
    const draining = await fabric.startService('testbed-service', { TESTBED_SERVICE_NAME: 'drain' });
    await fabric.waitForTool(client, 'drain_sleep');
    const call = client.callTool({ name: 'drain_sleep', arguments: { ms: 600 } });
    await eventually(
      async () => (await (await fetch(`${draining.url}/metrics`)).text()).includes('fabric_service_in_flight 1'),
      5_000,
      'the call to be in flight',
    );
    const exit = draining.stop('SIGTERM');
    const result = await call;
    expect(result.isError).toBeFalsy();
    expect(textOf(result)).toBe('slept 600 ms');
    expect(await exit).toBe(0);
  });
});
