import { NatsClient, decodeJson } from '@fabric/platform-nats';
import { createScratchDatabase, type ScratchDatabase } from '@fabric/platform-persistence';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { Fabric, INITIALIZE, listAllTools, postRaw, textOf } from './support/fabric';
import { eventually } from './support/processes';

const MEMORY_TOOLS = [
  'create_entities',
  'create_relations',
  'add_observations',
  'delete_entities',
  'delete_observations',
  'delete_relations',
  'read_graph',
  'search_nodes',
  'open_nodes',
];

interface Graph {
  entities: { name: string; entityType: string; observations: string[] }[];
  relations: { from: string; to: string; relationType: string }[];
}

// Every MCP method of the gateway, driven by the SDK's client, against the knowledge service on
// PostgreSQL (two replicas sharing one database) and the testbed service, all real processes.
describe('MCP methods through the gateway', () => {
  let database: ScratchDatabase;
  let fabric: Fabric;

  beforeAll(async () => {
    database = await createScratchDatabase('e2e_knowledge');
    const knowledge = { app: 'knowledge-service', env: { DATABASE_URL: database.url } };
    fabric = await Fabric.start({ services: [knowledge, knowledge, { app: 'testbed-service' }] });
  });

  afterAll(async () => {
    await fabric?.stop();
    await database?.drop();
  });

  it('initialize negotiates 2025-11-25 and announces tools, resources, prompts, logging and completions', async () => {
    const { client } = await fabric.connect();
    const capabilities = client.getServerCapabilities();
    expect(capabilities).toMatchObject({
      tools: { listChanged: true },
      resources: { listChanged: true },
      prompts: { listChanged: true },
      logging: {},
      completions: {},
    });
    const init = await postRaw(fabric.mcpUrl, INITIALIZE);
    expect(init.json).toMatchObject({ result: { protocolVersion: '2025-11-25', serverInfo: { name: 'mcp-fabric' } } });
    expect(await client.ping()).toEqual({});
  });

  it('at the default LOG_LEVEL (info), /mcp is answered ahead of Express with one compact access line per request', async () => {
    const gateway = await fabric.startGateway({ LOG_LEVEL: 'info' });
    const url = `${gateway.url}/mcp`;
    // Express marks what it answers with X-Powered-By; the endpoint writes its own headers only.
    const init = await postRaw(url, INITIALIZE, { 'x-request-id': 'req-init-1' });
    expect(init.status).toBe(200);
    expect(init.headers.get('x-powered-by')).toBeNull();
    const health = await fetch(`${gateway.url}/healthz`);
    expect(health.headers.get('x-powered-by')).toBe('Express');
    const session = init.headers.get('mcp-session-id')!;
    const call = JSON.stringify({
      jsonrpc: '2.0',
      id: 2,
      method: 'tools/call',
      params: { name: 'testbed_echo', arguments: { text: 'logged' } },
    });
    const headers = { 'mcp-session-id': session, 'x-request-id': 'req-call-2', authorization: 'Bearer s3cr3t-token' };
    expect((await postRaw(url, call, headers)).status).toBe(200);
    const accessLines = () =>
      gateway
        .logs()
        .split('\n')
        .filter((line) => line.includes('"log":"access"'))
        .map((line) => JSON.parse(line) as Record<string, unknown>);
    await eventually(async () => accessLines().some((line) => line['req'] === 'req-call-2'), 10_000, 'the access line');
    const line = accessLines().find((candidate) => candidate['req'] === 'req-call-2')!;
    expect(line).toMatchObject({
      http: 'POST',
      mcp: 'tools/call',
      target: 'testbed_echo',
      status: 200,
      session: session.slice(0, 8),
    });
    expect(typeof line['ms']).toBe('number');
    expect(typeof line['time']).toBe('number');
    expect(accessLines().find((candidate) => candidate['req'] === 'req-init-1')).toMatchObject({ mcp: 'initialize' });
    // No headers dump, and no secret of the request, on any line.
    expect(gateway.logs()).not.toContain('s3cr3t-token');
    expect(gateway.logs()).not.toContain('"headers"');
    await gateway.stop();
  });

  it('an older protocol revision is negotiated when the client asks for it', async () => {
    const old = INITIALIZE.replace('2025-11-25', '2025-03-26');
    const init = await postRaw(fabric.mcpUrl, old);
    expect(init.json).toMatchObject({ result: { protocolVersion: '2025-03-26' } });
  });

  it('tools/list publishes the memory server tools under the knowledge_ prefix, with schemas and annotations', async () => {
    const { client } = await fabric.connect();
    await fabric.waitForTool(client, 'knowledge_read_graph');
    const { tools } = await client.listTools();
    for (const name of MEMORY_TOOLS) expect(tools.map((tool) => tool.name)).toContain(`knowledge_${name}`);
    const search = tools.find((tool) => tool.name === 'knowledge_search_nodes')!;
    expect(search.inputSchema).toMatchObject({
      type: 'object',
      properties: { query: { type: 'string' } },
      required: ['query'],
    });
    expect(search.annotations).toMatchObject({ readOnlyHint: true });
  });

  it('tools/call runs the knowledge-graph tools with the memory server semantics', async () => {
    const { client } = await fabric.connect();
    await fabric.waitForTool(client, 'knowledge_create_entities');
    const call = async (name: string, args: Record<string, unknown>) => {
      const result = await client.callTool({ name: `knowledge_${name}`, arguments: args });
      expect(result.isError).toBeFalsy();
      return result;
    };

    await call('create_entities', {
      entities: [
        { name: 'Ada Lovelace', entityType: 'person', observations: ['wrote the first program'] },
        { name: 'Analytical Engine', entityType: 'machine', observations: [] },
      ],
    });
    const again = await call('create_entities', {
      entities: [{ name: 'Ada Lovelace', entityType: 'person', observations: [] }],
    });
    // The reference answers only what it created: nothing, and no word of the entity it left out.
    expect({ content: again.content, structuredContent: again.structuredContent }).toEqual({
      content: [{ type: 'text', text: '[]' }],
      structuredContent: { entities: [] },
    });
    await call('create_relations', {
      relations: [{ from: 'Ada Lovelace', to: 'Analytical Engine', relationType: 'programmed' }],
    });
    const added = await call('add_observations', {
      observations: [{ entityName: 'Ada Lovelace', contents: ['born 1815', 'wrote the first program'] }],
    });
    expect(added.structuredContent).toEqual({
      results: [{ entityName: 'Ada Lovelace', addedObservations: ['born 1815'] }],
    });

    const found = (await call('search_nodes', { query: 'ADA' })).structuredContent as unknown as Graph;
    expect(found.entities.map((entity) => entity.name)).toEqual(['Ada Lovelace']);
    expect(found.entities[0].observations).toEqual(['wrote the first program', 'born 1815']);
    const opened = (await call('open_nodes', { names: ['Analytical Engine'] })).structuredContent as unknown as Graph;
    expect(opened.entities.map((entity) => entity.name)).toEqual(['Analytical Engine']);

    await call('delete_observations', { deletions: [{ entityName: 'Ada Lovelace', observations: ['born 1815'] }] });
    await call('delete_relations', {
      relations: [{ from: 'Ada Lovelace', to: 'Analytical Engine', relationType: 'programmed' }],
    });
    await call('delete_entities', { entityNames: ['Analytical Engine'] });
    const graph = (await call('read_graph', {})).structuredContent as unknown as Graph;
    expect(graph.entities.map((entity) => entity.name)).toContain('Ada Lovelace');
    expect(graph.entities.map((entity) => entity.name)).not.toContain('Analytical Engine');
    expect(graph.relations).toEqual([]);

    const missing = await client.callTool({
      name: 'knowledge_add_observations',
      arguments: { observations: [{ entityName: 'Nobody', contents: ['x'] }] },
    });
    expect(missing.isError).toBe(true);
    expect(textOf(missing)).toContain('Entity with name Nobody not found');
  });

  it('two replicas on one database lose no observation when clients add to one entity at once', async () => {
    const { client: first } = await fabric.connect('first');
    const { client: second } = await fabric.connect('second');
    await fabric.waitForTool(first, 'knowledge_add_observations');
    await first.callTool({
      name: 'knowledge_create_entities',
      arguments: { entities: [{ name: 'Shared', entityType: 'note', observations: [] }] },
    });
    const add = (client: typeof first, who: string, i: number) =>
      client.callTool({
        name: 'knowledge_add_observations',
        arguments: { observations: [{ entityName: 'Shared', contents: [`${who} ${i}`] }] },
      });
    const results = await Promise.all(
      Array.from({ length: 40 }, (_, i) => [add(first, 'first', i), add(second, 'second', i)]).flat(),
    );
    expect(results.filter((result) => result.isError)).toEqual([]);
    const opened = (await first.callTool({ name: 'knowledge_open_nodes', arguments: { names: ['Shared'] } }))
      .structuredContent as unknown as Graph;
    expect(opened.entities[0].observations).toHaveLength(80);
  });

  it('resources: list, list templates, read through a template, and an unknown entity is -32002', async () => {
    const { client } = await fabric.connect();
    await fabric.waitForTool(client, 'testbed_echo');
    await client.callTool({
      name: 'knowledge_create_entities',
      arguments: { entities: [{ name: 'Grace Hopper', entityType: 'person', observations: ['COBOL'] }] },
    });

    const { resources } = await client.listResources();
    expect(resources).toContainEqual(expect.objectContaining({ uri: 'testbed://about' }));
    const { resourceTemplates } = await client.listResourceTemplates();
    expect(resourceTemplates).toContainEqual(expect.objectContaining({ uriTemplate: 'knowledge://entities/{name}' }));

    const read = await client.readResource({ uri: 'knowledge://entities/Grace%20Hopper' });
    expect(read.contents[0]).toMatchObject({
      uri: 'knowledge://entities/Grace%20Hopper',
      mimeType: 'application/json',
    });
    expect(JSON.parse((read.contents[0] as { text: string }).text)).toMatchObject({
      name: 'Grace Hopper',
      observations: ['COBOL'],
    });
    const about = await client.readResource({ uri: 'testbed://about' });
    expect(about.contents[0]).toMatchObject({ mimeType: 'text/plain' });

    await expect(client.readResource({ uri: 'knowledge://entities/Nobody' })).rejects.toMatchObject({ code: -32002 });
    await expect(client.readResource({ uri: 'nowhere://x' })).rejects.toMatchObject({ code: -32002 });
  });

  it('prompts: list and get summarize_entity with what the graph knows', async () => {
    const { client } = await fabric.connect();
    await client.callTool({
      name: 'knowledge_create_entities',
      arguments: { entities: [{ name: 'Alan Turing', entityType: 'person', observations: ['broke Enigma'] }] },
    });
    const { prompts } = await client.listPrompts();
    expect(prompts).toContainEqual(
      expect.objectContaining({
        name: 'knowledge_summarize_entity',
        arguments: [expect.objectContaining({ name: 'name', required: true })],
      }),
    );
    const prompt = await client.getPrompt({ name: 'knowledge_summarize_entity', arguments: { name: 'Alan Turing' } });
    expect(prompt.messages[0].role).toBe('user');
    expect(JSON.stringify(prompt.messages[0].content)).toContain('broke Enigma');
    await expect(client.getPrompt({ name: 'knowledge_summarize_entity', arguments: {} })).rejects.toMatchObject({
      code: -32602,
    });
    await expect(client.getPrompt({ name: 'knowledge_nope' })).rejects.toMatchObject({ code: -32602 });
  });

  it('completion/complete suggests entity names for the prompt argument and the template variable', async () => {
    const { client } = await fabric.connect();
    await client.callTool({
      name: 'knowledge_create_entities',
      arguments: { entities: [{ name: 'Edsger Dijkstra', entityType: 'person', observations: [] }] },
    });
    const forPrompt = await client.complete({
      ref: { type: 'ref/prompt', name: 'knowledge_summarize_entity' },
      argument: { name: 'name', value: 'eds' },
    });
    expect(forPrompt.completion.values).toEqual(['Edsger Dijkstra']);
    const forTemplate = await client.complete({
      ref: { type: 'ref/resource', uri: 'knowledge://entities/{name}' },
      argument: { name: 'name', value: 'Ed' },
    });
    expect(forTemplate.completion.values).toEqual(['Edsger Dijkstra']);
    const notCompletable = await client.complete({
      ref: { type: 'ref/prompt', name: 'testbed_greet' },
      argument: { name: 'name', value: 'x' },
    });
    expect(notCompletable.completion.values).toEqual([]);
  });

  it('logging/setLevel is accepted and stored in the shared session record', async () => {
    const { client, transport } = await fabric.connect();
    expect(await client.setLoggingLevel('warning')).toEqual({});
    const nats = await NatsClient.connect({ url: fabric.sharedEnv['NATS_URL'], name: 'e2e-kv-reader' });
    try {
      const sessions = await nats.keyValue(`${fabric.namespace}_sessions`);
      const entry = await sessions.get(transport.sessionId!);
      expect(decodeJson(entry!.value)).toMatchObject({ id: transport.sessionId, logLevel: 'warning' });
    } finally {
      await nats.close();
    }
  });

  it('DELETE ends the session: the next request on it is 404', async () => {
    const { client, transport } = await fabric.connect();
    expect((await listAllTools(client)).length).toBeGreaterThan(0);
    const sessionId = transport.sessionId!;
    await (transport as StreamableHTTPClientTransport).terminateSession();
    const ping = await postRaw(fabric.mcpUrl, JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'ping' }), {
      'mcp-session-id': sessionId,
    });
    expect(ping.status).toBe(404);
  });
});
