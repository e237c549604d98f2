import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { Fabric, textOf } from './support/fabric';

// The conformance service's fixtures reach clients unchanged through two gateways with bare names
// (TOOL_NAME_PREFIX=false), as the official conformance suite expects them.
describe('conformance fixtures through the fabric', () => {
  let fabric: Fabric;
  let client: Client;

  beforeAll(async () => {
    fabric = await Fabric.start({
      gateways: 2,
      services: [{ app: 'conformance-service' }],
      gatewayEnv: { TOOL_NAME_PREFIX: 'false' },
    });
    ({ client } = await fabric.connect());
    await fabric.waitForTool(client, 'test_simple_text');
  });

  afterAll(async () => {
    await fabric?.stop();
  });

  it('content blocks of every kind pass through NATS untouched', async () => {
    const image = await client.callTool({ name: 'test_image_content', arguments: {} });
    expect(image.content).toEqual([{ type: 'image', data: expect.stringMatching(/^iVBOR/), mimeType: 'image/png' }]);
    const audio = await client.callTool({ name: 'test_audio_content' });
    expect(audio.content).toEqual([{ type: 'audio', data: expect.stringMatching(/^UklGR/), mimeType: 'audio/wav' }]);
    const mixed = await client.callTool({ name: 'test_multiple_content_types', arguments: {} });
    expect((mixed.content as { type: string }[]).map((block) => block.type)).toEqual(['text', 'image', 'resource']);
    const failed = await client.callTool({ name: 'test_error_handling', arguments: {} });
    expect(failed).toMatchObject({
      isError: true,
      content: [{ type: 'text', text: 'This tool intentionally returns an error for testing' }],
    });
  });

  it('a JSON Schema 2020-12 input schema is listed as written and enforced, $defs and $ref included', async () => {
    const { tools } = await client.listTools();
    expect(tools.find((tool) => tool.name === 'json_schema_2020_12_tool')).toEqual({
      name: 'json_schema_2020_12_tool',
      description: 'Tool with JSON Schema 2020-12 features',
      inputSchema: {
        $schema: 'https://json-schema.org/draft/2020-12/schema',
        type: 'object',
        $defs: { address: { type: 'object', properties: { street: { type: 'string' }, city: { type: 'string' } } } },
        properties: { name: { type: 'string' }, address: { $ref: '#/$defs/address' } },
        additionalProperties: false,
      },
    });
    const args = { name: 'x', address: { city: 'y' } };
    const accepted = await client.callTool({ name: 'json_schema_2020_12_tool', arguments: args });
    expect(accepted).toEqual({ content: [{ type: 'text', text: `Received: ${JSON.stringify(args)}` }] });
    const refused = await client.callTool({ name: 'json_schema_2020_12_tool', arguments: { unknown: 1 } });
    expect(refused.isError).toBe(true);
    expect(textOf(refused)).toMatch(/^Invalid arguments for tool json_schema_2020_12_tool: .*\bunknown\b/);
    const throughRef = await client.callTool({ name: 'json_schema_2020_12_tool', arguments: { address: { city: 1 } } });
    expect(throughRef.isError).toBe(true);
    expect(textOf(throughRef)).toContain('address.city');
  });

  it('resources, templates and prompts answer with the fixtures, arguments substituted', async () => {
    const binary = await client.readResource({ uri: 'test://static-binary' });
    expect(binary.contents[0]).toMatchObject({
      uri: 'test://static-binary',
      mimeType: 'image/png',
      blob: expect.any(String),
    });
    const templated = await client.readResource({ uri: 'test://template/123/data' });
    expect(JSON.parse((templated.contents[0] as { text: string }).text)).toEqual({
      id: '123',
      templateTest: true,
      data: 'Data for ID: 123',
    });
    const prompt = await client.getPrompt({
      name: 'test_prompt_with_arguments',
      arguments: { arg1: 'testValue1', arg2: 'testValue2' },
    });
    expect(prompt.messages[0].content).toEqual({
      type: 'text',
      text: "Prompt with arguments: arg1='testValue1', arg2='testValue2'",
    });
    const completion = await client.complete({
      ref: { type: 'ref/prompt', name: 'test_prompt_with_arguments' },
      argument: { name: 'arg1', value: 'test' },
    });
    expect(completion.completion.values).toEqual(['testValue1', 'testValue2']);
  });
});
