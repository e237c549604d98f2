import { Fabric, INITIALIZE, postRaw, textOf } from './support/fabric';
import { metricValue } from './support/metrics';
import { eventually } from './support/processes';

// Bad input and faults at the edge: every case answers with a clear, spec-conformant error and the
// gateway keeps serving.
describe('gateway faults', () => {
  let fabric: Fabric;

  beforeAll(async () => {
    fabric = await Fabric.start({
      services: [{ app: 'testbed-service' }],
      gatewayEnv: { MAX_BODY_BYTES: '65536' },
    });
  });

  afterAll(async () => {
    await fabric?.stop();
  });

  const serviceCalls = (tool: string) =>
    metricValue(fabric.processes[0].url, 'fabric_service_calls_total', { name: tool });

  it('tools/call of an unknown tool is a JSON-RPC invalid-params error', async () => {
    const { client } = await fabric.connect();
    await expect(client.callTool({ name: 'testbed_nope', arguments: {} })).rejects.toMatchObject({
      code: -32602,
      message: expect.stringContaining('Unknown tool: testbed_nope'),
    });
  });

  it('arguments that fail the input schema are rejected at the gateway, naming the field, without reaching the service', async () => {
    const { client } = await fabric.connect();
    await fabric.waitForTool(client, 'testbed_echo');
    const before = await serviceCalls('echo');
    const result = await client.callTool({ name: 'testbed_echo', arguments: { text: 42 } });
    expect(result.isError).toBe(true);
    expect(textOf(result)).toContain('text');
    expect(textOf(result)).toContain('must be string');
    const missing = await client.callTool({ name: 'testbed_echo', arguments: {} });
    expect(textOf(missing)).toContain('text: is required');
    expect(await serviceCalls('echo')).toBe(before);
    await client.callTool({ name: 'testbed_echo', arguments: { text: 'reaches the service' } });
    expect(await serviceCalls('echo')).toBe(before + 1);
  });

  it('notifications/cancelled from the client, or the client going away, stops the running handler', async () => {
    const { client, transport } = await fabric.connect();
    const stats = async () =>
      (await client.callTool({ name: 'testbed_stats', arguments: {} })).structuredContent as { aborted: number };
    const abortedBefore = (await stats()).aborted;

    const cancelled = new AbortController();
    const call = client.callTool({ name: 'testbed_sleep', arguments: { ms: 800 } }, undefined, {
      signal: cancelled.signal,
    });
    setTimeout(() => cancelled.abort('changed my mind'), 100);
    await expect(call).rejects.toThrow();
    await eventually(async () => (await stats()).aborted === abortedBefore + 1, 5_000, 'the cancelled handler to stop');

    const gone = new AbortController();
    const body = JSON.stringify({
      jsonrpc: '2.0',
      id: 99,
      method: 'tools/call',
      params: { name: 'testbed_sleep', arguments: { ms: 800 } },
    });
    const headers = { 'mcp-session-id': transport.sessionId!, 'mcp-protocol-version': '2025-11-25' };
    const request = postRaw(fabric.mcpUrl, body, headers, gone.signal).catch(() => 'disconnected');
    setTimeout(() => gone.abort(), 100);
    expect(await request).toBe('disconnected');
    await eventually(async () => (await stats()).aborted === abortedBefore + 2, 5_000, 'the abandoned handler to stop');
  });

  it('a service slower than its tool timeout gets a timeout error and is told to stop', async () => {
    const { client } = await fabric.connect();
    const stats = async () =>
      (await client.callTool({ name: 'testbed_stats', arguments: {} })).structuredContent as { aborted: number };
    const abortedBefore = (await stats()).aborted;
    const started = Date.now();
    const result = await client.callTool({ name: 'testbed_sleep', arguments: { ms: 10_000 } });
    expect(Date.now() - started).toBeLessThan(5_000);
    expect(result.isError).toBe(true);
    expect(textOf(result)).toMatch(/deadline|did not finish/);
    await eventually(async () => (await stats()).aborted === abortedBefore + 1, 5_000, 'the handler to be aborted');
  });

  it('an unexpected service error reaches the client as an internal error with a reference, never its message or stack', async () => {
    const { client } = await fabric.connect();
    const result = await client.callTool({ name: 'testbed_fail', arguments: {} });
    expect(result.isError).toBe(true);
    expect(textOf(result)).toMatch(/Internal error in the service \(reference [0-9a-f]{8}\)/);
    expect(textOf(result)).not.toContain('hunter2');
    expect(textOf(result)).not.toMatch(/\bat \//);
  });

  it('malformed JSON gets 400 with JSON-RPC parse error -32700', async () => {
    const response = await postRaw(fabric.mcpUrl, '{"jsonrpc": "2.0", "id": 1, "method": ');
    expect(response.status).toBe(400);
    expect(response.json).toMatchObject({ jsonrpc: '2.0', error: { code: -32700 }, id: null });
  });

  it('a POST that does not accept both application/json and text/event-stream gets 406', async () => {
    const response = await postRaw(fabric.mcpUrl, INITIALIZE, { accept: 'application/json' });
    expect(response.status).toBe(406);
    expect(response.json).toMatchObject({ error: { message: expect.stringContaining('Not Acceptable') } });
  });

  it('an unknown session gets 404, and so does a session after DELETE', async () => {
    const ping = JSON.stringify({ jsonrpc: '2.0', id: 2, method: 'ping' });
    const unknown = await postRaw(fabric.mcpUrl, ping, { 'mcp-session-id': 'no-such-session' });
    expect(unknown.status).toBe(404);
    expect(unknown.json).toMatchObject({ error: { code: -32001 } });

    const init = await postRaw(fabric.mcpUrl, INITIALIZE);
    const sessionId = init.headers.get('mcp-session-id')!;
    expect(sessionId).toBeTruthy();
    expect((await postRaw(fabric.mcpUrl, ping, { 'mcp-session-id': sessionId })).status).toBe(200);
    const deleted = await fetch(fabric.mcpUrl, { method: 'DELETE', headers: { 'mcp-session-id': sessionId } });
    expect(deleted.status).toBe(200);
    expect((await postRaw(fabric.mcpUrl, ping, { 'mcp-session-id': sessionId })).status).toBe(404);
  });

  it('a session idle for longer than the configured TTL expires (404), an active one does not', async () => {
    // Its own namespace: the TTL is a property of the session bucket, shared by every gateway of a fabric.
    const shortLived = await fabric.startApp('gateway', {
      SESSION_IDLE_TTL_MS: '1500',
      DISCOVERY_WAIT_MS: '0',
      FABRIC_NAMESPACE: `${fabric.namespace}ttl`,
    });
    const url = `${shortLived.url}/mcp`;
    const ping = JSON.stringify({ jsonrpc: '2.0', id: 9, method: 'ping' });
    const idle = (await postRaw(url, INITIALIZE)).headers.get('mcp-session-id')!;
    const active = (await postRaw(url, INITIALIZE)).headers.get('mcp-session-id')!;
    // Only the active session is used for three TTLs; touching the idle one would keep it alive.
    const until = Date.now() + 3 * 1_500;
    while (Date.now() < until) {
      expect((await postRaw(url, ping, { 'mcp-session-id': active })).status).toBe(200);
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
    expect((await postRaw(url, ping, { 'mcp-session-id': idle })).status).toBe(404);
    expect((await postRaw(url, ping, { 'mcp-session-id': active })).status).toBe(200);
    await shortLived.stop();
  });

  it('a body over the configured limit gets 413 and the gateway keeps serving', async () => {
    const huge = JSON.stringify({ jsonrpc: '2.0', id: 3, method: 'ping', params: { pad: 'x'.repeat(200_000) } });
    const response = await postRaw(fabric.mcpUrl, huge);
    expect(response.status).toBe(413);
    const { client } = await fabric.connect();
    expect(await client.ping()).toEqual({});
  });

  it('an Origin that is not allowed gets 403', async () => {
    const response = await postRaw(fabric.mcpUrl, INITIALIZE, { origin: 'https://evil.example.com' });
    expect(response.status).toBe(403);
    const local = await postRaw(fabric.mcpUrl, INITIALIZE, { origin: 'http://localhost:6274' });
    expect(local.status).toBe(200);
  });

  it('a service with no live replica fails at once, not at the 30 s timeout', async () => {
    const { client } = await fabric.connect();
    await fabric.waitForTool(client, 'testbed_sleep');
    await fabric.processes[0].stop('SIGKILL');
    await fabric.waitUntilOffTheBus('testbed');
    const started = Date.now();
    const result = await client.callTool({ name: 'testbed_sleep', arguments: { ms: 1 } });
    expect(Date.now() - started).toBeLessThan(5_000);
    expect(result.isError).toBe(true);
    expect(textOf(result)).toContain('No live replica of service "testbed"');
  });
});
