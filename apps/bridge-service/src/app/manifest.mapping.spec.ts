import type { Tool } from '@modelcontextprotocol/sdk/types.js';
import { HandlerTable, detachedCallContext } from '@fabric/service-kit';
import { toDeclarations, templateVariables, type UpstreamCaller, type UpstreamLists } from './manifest.mapping';

const echo: Tool = {
  name: 'echo',
  title: 'Echo',
  description: 'Echoes back the input',
  inputSchema: {
    $schema: 'http://json-schema.org/draft-07/schema#',
    type: 'object',
    properties: { message: { type: 'string', description: 'Message to echo', 'x-extra': [1, 2] } },
    required: ['message'],
  } as Tool['inputSchema'],
  outputSchema: { type: 'object', properties: { echoed: { type: 'string' } } },
  annotations: { readOnlyHint: true, idempotentHint: true, openWorldHint: false },
};
const write: Tool = {
  name: 'write-file',
  description: 'Writes',
  inputSchema: { type: 'object', properties: { path: { type: 'string' } } },
  annotations: { readOnlyHint: false },
};

const lists: UpstreamLists = {
  tools: [echo, write, { name: 'bad name!', inputSchema: { type: 'object' } }],
  resources: [{ uri: 'demo://static/1', name: 'one', mimeType: 'text/plain' }],
  resourceTemplates: [{ uriTemplate: 'demo://items/{id}{?page}', name: 'item' }],
  prompts: [{ name: 'greet', arguments: [{ name: 'who', required: true, description: 'Whom' }] }],
  completions: true,
};

function recordingCaller() {
  const calls: unknown[][] = [];
  const caller: UpstreamCaller = {
    callTool: async (...args) => (calls.push(['callTool', args[0], args[1], args[3]]), { content: [] }),
    readResource: async (uri) => (calls.push(['readResource', uri]), { contents: [{ uri, text: 'x' }] }),
    getPrompt: async (name, args) => (calls.push(['getPrompt', name, args]), { messages: [] }),
    complete: async (ref, argument, context) => (calls.push(['complete', ref, argument, context]), { values: ['a'] }),
  };
  return { caller, calls };
}

describe('upstream lists as a manifest', () => {
  it('passes schemas and annotations through untouched and leaves out what cannot be published', () => {
    const warnings: string[] = [];
    const declarations = toDeclarations(lists, recordingCaller().caller, { cache: {}, scopes: {} }, (m) =>
      warnings.push(m),
    );
    const { manifest } = new HandlerTable({ service: 'everything', version: '1' }, [], [declarations]);
    const tool = manifest.tools.find((descriptor) => descriptor.name === 'echo')!;
    expect(tool.inputSchema).toEqual(echo.inputSchema);
    expect(tool.outputSchema).toEqual(echo.outputSchema);
    expect(tool.annotations).toEqual(echo.annotations);
    expect(tool.title).toBe('Echo');
    expect(manifest.tools.map((descriptor) => descriptor.name)).toEqual(['echo', 'write-file']);
    expect(warnings).toEqual([expect.stringContaining('"bad name!"')]);
    expect(manifest.prompts[0]).toMatchObject({
      name: 'greet',
      arguments: [{ name: 'who', required: true, description: 'Whom' }],
      completable: ['who'],
    });
    expect(manifest.resourceTemplates[0]).toMatchObject({
      uriTemplate: 'demo://items/{id}{?page}',
      completable: ['id', 'page'],
    });
  });

  it('applies the operator cache policies and scopes by glob; a policy on a tool that writes is refused', () => {
    const warnings: string[] = [];
    const declarations = toDeclarations(
      lists,
      recordingCaller().caller,
      { cache: { '*': { ttlMs: 1_000, scope: 'principal' } }, scopes: { 'write-*': ['files:write'] } },
      (m) => warnings.push(m),
    );
    const { manifest } = new HandlerTable({ service: 'everything', version: '1' }, [], [declarations]);
    expect(manifest.tools[0].cache).toEqual({ ttlMs: 1_000, scope: 'principal' });
    expect(manifest.tools[1].cache).toBeUndefined();
    expect(manifest.tools[1].scopes).toEqual(['files:write']);
    expect(warnings).toContainEqual(expect.stringContaining('"write-file", which is not annotated read-only'));
  });

  it('sends each operation to the upstream with what the client gave', async () => {
    const { caller, calls } = recordingCaller();
    const declarations = toDeclarations(lists, caller, { cache: {}, scopes: {} }, () => undefined);
    const ctx = detachedCallContext();
    await declarations.tools![0].handler({ message: 'hi' }, ctx);
    await declarations.tools![1].handler({ path: '/x' }, ctx);
    await declarations.resourceTemplates![0].handler({ id: '7' }, { ...ctx, uri: 'demo://items/7' });
    await declarations.prompts![0].handler({ who: 'Ada' }, ctx);
    const completion = declarations.completions!.find((entry) => 'prompt' in entry.target)!;
    await completion.handler('A', { other: 'x' }, ctx);
    expect(calls).toEqual([
      ['callTool', 'echo', { message: 'hi' }, true],
      ['callTool', 'write-file', { path: '/x' }, false],
      ['readResource', 'demo://items/7'],
      ['getPrompt', 'greet', { who: 'Ada' }],
      ['complete', { type: 'ref/prompt', name: 'greet' }, { name: 'who', value: 'A' }, { other: 'x' }],
    ]);
  });

  it('names the variables of a URI template', () => {
    expect(templateVariables('a://{x}/{+path}{?q,page*}')).toEqual(['x', 'path', 'q', 'page']);
  });
});
