import { Client, StreamableHTTPClientTransport } from '@modelcontextprotocol/client';
import { Fabric } from './support/fabric';

const REVISION = '2026-07-28';

// The SDK v2 client pinned to revision 2026-07-28 against two gateway replicas behind the round-robin
// proxy (no stickiness: consecutive requests land on different replicas) and the conformance service.
describe('the 2026-07-28 stateless era through two gateway replicas', () => {
  let fabric: Fabric;
  let client: Client;

  beforeAll(async () => {
    fabric = await Fabric.start({
      gateways: 2,
      services: [{ app: 'conformance-service', replicas: 2 }],
      gatewayEnv: { TOOL_NAME_PREFIX: 'false' },
    });
    const legacy = await fabric.connect();
    await fabric.waitForTool(legacy.client, 'test_simple_text');
    client = new Client(
      { name: 'stateless-e2e', version: '1.0.0' },
      { versionNegotiation: { mode: { pin: REVISION } } },
    );
    await client.connect(new StreamableHTTPClientTransport(new URL(fabric.mcpUrl)));
  }, 60_000);

  afterAll(async () => {
    await client?.close();
    await fabric?.stop();
  });

  it('connects without a session: server/discover names the revision and the capabilities', () => {
    expect(client.getProtocolEra()).toBe('modern');
    expect(client.getDiscoverResult()?.supportedVersions).toContain(REVISION);
    expect(client.getServerCapabilities()?.tools).toBeDefined();
  });

  it('lists and calls tools, reads resources and gets prompts, on both replicas', async () => {
    const before = fabric.gateways.map((gateway) => fabric.proxy?.served.get(gateway.url) ?? 0);
    const { tools } = await client.listTools();
    expect(tools.map((tool) => tool.name)).toContain('test_simple_text');
    for (let i = 0; i < 4; i++) {
      const result = await client.callTool({ name: 'test_simple_text', arguments: {} });
      expect(result.content).toEqual([{ type: 'text', text: 'This is a simple text response for testing.' }]);
    }
    const read = await client.readResource({ uri: 'test://static-text' });
    expect(read.contents[0]).toMatchObject({ uri: 'test://static-text' });
    const prompt = await client.getPrompt({ name: 'test_simple_prompt' });
    expect(prompt.messages.length).toBeGreaterThan(0);
    const after = fabric.gateways.map((gateway) => fabric.proxy?.served.get(gateway.url) ?? 0);
    expect(after.every((served, i) => served > before[i])).toBe(true);
  });

  it('a tool failure is a result with isError, not a protocol error', async () => {
    const result = await client.callTool({ name: 'test_error_handling', arguments: {} });
    expect(result.isError).toBe(true);
  });

  it('progress of a long call reaches the client on the response stream', async () => {
    const progress: number[] = [];
    const result = await client.callTool(
      { name: 'test_tool_with_progress', arguments: {} },
      { onprogress: (update) => progress.push(update.progress) },
    );
    expect(result.content).toEqual([{ type: 'text', text: 'Progress tool completed' }]);
    // Notifications precede the result on the response stream.
    expect(progress).toEqual([0, 50, 100]);
  });

  it('an unknown tool is a protocol error with the request answered', async () => {
    await expect(client.callTool({ name: 'no_such_tool', arguments: {} })).rejects.toThrow(/Unknown tool/);
  });

  describe('input-required results (MRTR): the handler asks, the client answers on the next POST', () => {
    let asking: Client;
    const asked: string[] = [];

    beforeAll(async () => {
      asking = new Client(
        { name: 'stateless-e2e-elicit', version: '1.0.0' },
        { capabilities: { elicitation: {} }, versionNegotiation: { mode: { pin: REVISION } } },
      );
      asking.setRequestHandler('elicitation/create', async (request) => {
        asked.push(request.params.message);
        const field = Object.keys(
          (request.params as { requestedSchema?: { properties?: object } }).requestedSchema?.properties ?? {},
        )[0];
        return { action: 'accept', content: { [field]: field === 'color' ? 'blue' : 'Ada' } };
      });
      await asking.connect(new StreamableHTTPClientTransport(new URL(fabric.mcpUrl)));
    });

    afterAll(async () => {
      await asking?.close();
    });

    it('an elicitation is answered through two replicas, and the result of the handler reaches the client', async () => {
      const before = fabric.gateways.map((gateway) => fabric.proxy?.served.get(gateway.url) ?? 0);
      const result = await asking.callTool({ name: 'test_input_required_result_elicitation', arguments: {} });
      expect(result.content).toEqual([{ type: 'text', text: 'Hello, Ada!' }]);
      expect(asked).toContain('What is your name?');
      const after = fabric.gateways.map((gateway) => fabric.proxy?.served.get(gateway.url) ?? 0);
      // Round robin without stickiness: the call and its retry were served by different replicas.
      expect(after.every((served, i) => served > before[i])).toBe(true);
    });

    it('a handler asking twice gets both answers, over three requests', async () => {
      const result = await asking.callTool({ name: 'test_input_required_result_multi_round', arguments: {} });
      expect(result.content).toEqual([{ type: 'text', text: 'Ada likes blue' }]);
    });

    it('a prompt may ask the user too', async () => {
      const prompt = await asking.getPrompt({ name: 'test_input_required_result_prompt' });
      expect(prompt.messages[0].content).toEqual({ type: 'text', text: 'Use this context: Ada' });
    });

    it('a requestState is used at most once, and a tampered one is refused', async () => {
      const first = (await asking.callTool(
        { name: 'test_input_required_result_request_state', arguments: {} },
        { allowInputRequired: true },
      )) as unknown as { resultType: string; requestState: string; inputRequests: Record<string, unknown> };
      expect(first.resultType).toBe('input_required');
      expect(Object.keys(first.inputRequests)).toEqual(['confirm']);
      const retry = (requestState: string) =>
        asking.callTool(
          {
            name: 'test_input_required_result_request_state',
            arguments: {},
            inputResponses: { confirm: { action: 'accept', content: { ok: true } } },
            requestState,
          } as Parameters<Client['callTool']>[0],
          { allowInputRequired: true },
        );
      // A changed character inside the text (the last one may carry only padding bits).
      const state = first.requestState;
      const tampered = `${state.slice(0, 30)}${state[30] === 'A' ? 'B' : 'A'}${state.slice(31)}`;
      await expect(retry(tampered)).rejects.toThrow(/requestState/);
      const done = await retry(first.requestState);
      expect(done.content).toEqual([{ type: 'text', text: 'state-ok: true' }]);
      await expect(retry(first.requestState)).rejects.toThrow(/requestState/);
    });
  });
});
