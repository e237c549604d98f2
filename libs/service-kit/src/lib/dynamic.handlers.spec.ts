import { detachedCallContext } from './call.channel';
import { dispatchCall } from './call.dispatcher';
import { CachePolicyError } from './cache.declarations';
import { DynamicHandlers, type DynamicDeclarations } from './dynamic.handlers';
import type { DiscoveryService } from '@nestjs/core';
import { HandlerRegistry } from './handler.registry';
import { HandlerTable } from './handler.table';

const identity = { service: 'bridged', version: '1.0.0' };
const request = { id: 'c1', service: 'bridged', deadline: Date.now() + 60_000 };

const inputSchema = {
  type: 'object',
  properties: { message: { type: 'string', description: 'Echoed', 'x-vendor': { kept: true } } },
  required: ['message'],
  additionalProperties: false,
};

const declarations: DynamicDeclarations = {
  tools: [
    {
      name: 'echo',
      description: 'Echoes',
      inputSchema,
      outputSchema: { type: 'object', properties: { text: { type: 'string' } } },
      annotations: { readOnlyHint: true, 'x-custom': 1 } as never,
      handler: (args) => ({ content: [{ type: 'text', text: String(args['message']) }], structuredContent: args }),
    },
  ],
  resources: [{ uri: 'bridged://static', name: 'static', handler: () => 'static text' }],
  resourceTemplates: [
    { uriTemplate: 'bridged://items/{id}', name: 'item', handler: (params) => `item ${params['id']}` },
  ],
  prompts: [
    {
      name: 'greet',
      arguments: [{ name: 'who', description: 'Whom', required: true }],
      handler: (args) => `Hello ${args['who']}`,
    },
  ],
  completions: [{ target: { prompt: 'greet', argument: 'who' }, handler: (value) => [`${value}1`, `${value}2`] }],
};

describe('dynamic handlers', () => {
  it('publishes run-time JSON Schemas and annotations exactly as given', () => {
    const { manifest } = new HandlerTable(identity, [], [declarations]);
    expect(manifest.tools[0].inputSchema).toEqual(inputSchema);
    expect(manifest.tools[0].outputSchema).toEqual({ type: 'object', properties: { text: { type: 'string' } } });
    expect(manifest.tools[0].annotations).toEqual({ readOnlyHint: true, 'x-custom': 1 });
    expect(manifest.prompts[0]).toMatchObject({
      name: 'greet',
      arguments: [{ name: 'who', description: 'Whom', required: true }],
      completable: ['who'],
    });
    expect(manifest.resources.map((resource) => resource.uri)).toEqual(['bridged://static']);
    expect(manifest.resourceTemplates.map((template) => template.uriTemplate)).toEqual(['bridged://items/{id}']);
  });

  it('passes arguments through unparsed and results as returned', async () => {
    const table = new HandlerTable(identity, [], [declarations]);
    const ctx = detachedCallContext();
    const tool = await dispatchCall(
      table,
      { ...request, operation: 'tools.call', name: 'echo', arguments: { message: 'hi', extra: 1 } },
      ctx,
    );
    expect(tool).toEqual({ content: [{ type: 'text', text: 'hi' }], structuredContent: { message: 'hi', extra: 1 } });
    const prompt = await dispatchCall(
      table,
      { ...request, operation: 'prompts.get', name: 'greet', arguments: { who: 'Ada' } },
      ctx,
    );
    expect(prompt).toMatchObject({ messages: [{ role: 'user', content: { type: 'text', text: 'Hello Ada' } }] });
    const completion = await dispatchCall(
      table,
      { ...request, operation: 'completion.complete', name: 'greet', completion: { argument: 'who', value: 'A' } },
      ctx,
    );
    expect(completion).toMatchObject({ values: ['A1', 'A2'] });
  });

  it('checks a run-time cache policy against the JSON Schema properties', () => {
    const cached = (key: string[]): DynamicDeclarations => ({
      tools: [{ ...declarations.tools![0], cache: { ttlMs: 1_000, key } }],
    });
    expect(() => new HandlerTable(identity, [], [cached(['message'])])).not.toThrow();
    expect(() => new HandlerTable(identity, [], [cached(['nope'])])).toThrow(CachePolicyError);
  });

  it('gives a new revision when a provider changes what it declares', () => {
    class Provider extends DynamicHandlers {
      current: DynamicDeclarations = declarations;
      declarations() {
        return this.current;
      }
      replace(next: DynamicDeclarations) {
        this.current = next;
        this.changed();
      }
    }
    const provider = new Provider();
    let changes = 0;
    provider.onChange(() => changes++);
    const before = new HandlerTable(identity, [], [provider.declarations()]).manifest.revision;
    provider.replace({ tools: declarations.tools });
    const after = new HandlerTable(identity, [], [provider.declarations()]).manifest.revision;
    expect(changes).toBe(1);
    expect(after).not.toEqual(before);
  });
});

describe('HandlerRegistry with a DynamicHandlers provider', () => {
  class Provider extends DynamicHandlers {
    current: DynamicDeclarations = { tools: declarations.tools };
    declarations() {
      return this.current;
    }
    replace(next: DynamicDeclarations) {
      this.current = next;
      this.changed();
    }
  }

  function registryOf(provider: Provider) {
    // The registry finds providers through Nest's discovery; here the one provider is all there is.
    const discovery = { getProviders: () => [{ instance: provider }] } as unknown as DiscoveryService;
    const registry = new HandlerRegistry(discovery, identity);
    registry.onModuleInit();
    return registry;
  }

  it('rebuilds the table and tells its listeners when the provider changes, only for a new revision', () => {
    const provider = new Provider();
    const registry = registryOf(provider);
    expect([...registry.table.tools.keys()]).toEqual(['echo']);
    const seen: string[] = [];
    registry.onChange((table) => seen.push(table.manifest.revision ?? ''));
    provider.replace({ tools: declarations.tools });
    expect(seen).toEqual([]);
    provider.replace(declarations);
    expect(seen).toEqual([registry.table.manifest.revision]);
    expect(registry.table.prompts.has('greet')).toBe(true);
  });

  it('keeps the previous table when the provider changes to something invalid', () => {
    const provider = new Provider();
    const registry = registryOf(provider);
    const before = registry.table;
    provider.replace({ tools: [declarations.tools![0], declarations.tools![0]] });
    expect(registry.table).toBe(before);
  });
});
