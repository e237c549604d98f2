import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { Fabric } from './support/fabric';

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
