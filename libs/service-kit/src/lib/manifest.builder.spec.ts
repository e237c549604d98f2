import { z } from 'zod';
import type { Declarations } from './manifest.builder';
import { buildManifest, toJsonSchema, toPromptArguments } from './manifest.builder';

const identity = { service: 'orders', version: '1.0.0' };
const DRAFT_2020_12 = 'https://json-schema.org/draft/2020-12/schema';
const none: Declarations = { tools: [], resources: [], resourceTemplates: [], prompts: [], completions: [] };

describe('toJsonSchema', () => {
  const input = z.object({ query: z.string().describe('What to look for'), limit: z.number().int().default(10) });

  it('with io "input" keeps a defaulted field optional', () => {
    const schema = toJsonSchema(input, 'input');
    expect(schema).toMatchObject({ type: 'object', required: ['query'] });
    expect((schema['properties'] as Record<string, unknown>)['limit']).toMatchObject({ type: 'integer', default: 10 });
  });

  it('with io "output" makes a defaulted field required', () => {
    expect(toJsonSchema(input, 'output')).toMatchObject({ required: ['query', 'limit'] });
  });

  it('carries .describe() texts and names its dialect, 2020-12', () => {
    const schema = toJsonSchema(input, 'input');
    expect(schema['$schema']).toBe(DRAFT_2020_12);
    expect((schema['properties'] as Record<string, unknown>)['query']).toEqual({
      type: 'string',
      description: 'What to look for',
    });
  });
});

describe('toPromptArguments', () => {
  it('lists one argument per key with its description and whether it is required', () => {
    const args = z.object({
      id: z.string().describe('Order id'),
      tone: z.string().optional().describe('How formal to be'),
      language: z.string().default('en'),
    });
    expect(toPromptArguments(args)).toEqual([
      { name: 'id', description: 'Order id', required: true },
      { name: 'tone', description: 'How formal to be', required: false },
      { name: 'language', required: false },
    ]);
  });

  it('gives no arguments for a prompt without an arguments schema', () => {
    expect(toPromptArguments(undefined)).toEqual([]);
  });
});

describe('buildManifest', () => {
  it('describes a tool with its input schema as JSON Schema, output schema and options', () => {
    const manifest = buildManifest(identity, {
      ...none,
      tools: [
        {
          name: 'find_order',
          title: 'Find order',
          description: 'Finds one order',
          input: z.object({ id: z.string(), verbose: z.boolean().default(false) }),
          output: z.object({ total: z.number() }),
          annotations: { readOnlyHint: true },
          timeoutMs: 500,
          cache: { ttlMs: 5_000, scope: 'principal' },
          scopes: ['orders:read'],
        },
      ],
    });
    expect(manifest.tools).toEqual([
      {
        name: 'find_order',
        title: 'Find order',
        description: 'Finds one order',
        inputSchema: expect.objectContaining({ type: 'object', required: ['id'] }),
        outputSchema: expect.objectContaining({ type: 'object', required: ['total'] }),
        annotations: { readOnlyHint: true },
        timeoutMs: 500,
        cache: { ttlMs: 5_000, scope: 'principal' },
        scopes: ['orders:read'],
      },
    ]);
  });

  it('declares task support as execution.taskSupport, and none when the tool does not', () => {
    const manifest = buildManifest(identity, {
      ...none,
      tools: [
        { name: 'export', description: 'Exports', input: z.object({}), execution: { taskSupport: 'optional' } },
        { name: 'plain', description: 'Answers at once', input: z.object({}) },
      ],
    });
    expect(manifest.tools.map((tool) => tool.execution)).toEqual([{ taskSupport: 'optional' }, undefined]);
  });

  it('keeps $schema, $defs, $ref and additionalProperties of an input schema (SEP-1613)', () => {
    const address = z.object({ street: z.string().optional(), city: z.string().optional() }).meta({ id: 'address' });
    const manifest = buildManifest(identity, {
      ...none,
      tools: [
        {
          name: 'json_schema_2020_12_tool',
          description: 'Tool with JSON Schema 2020-12 features',
          input: z.strictObject({ name: z.string().optional(), address: address.optional() }),
        },
      ],
    });
    expect(manifest.tools[0].inputSchema).toEqual({
      $schema: DRAFT_2020_12,
      type: 'object',
      $defs: { address: { type: 'object', properties: { street: { type: 'string' }, city: { type: 'string' } } } },
      properties: { name: { type: 'string' }, address: { $ref: '#/$defs/address' } },
      additionalProperties: false,
    });
  });

  it('publishes an output schema without $schema, which draft-07 clients cannot resolve', () => {
    const manifest = buildManifest(identity, {
      ...none,
      tools: [{ name: 'total', description: 'Totals', input: z.object({}), output: z.object({ total: z.number() }) }],
    });
    expect(manifest.tools[0].outputSchema).not.toHaveProperty('$schema');
  });

  it('leaves out the optional keys a tool did not declare', () => {
    const manifest = buildManifest(identity, {
      ...none,
      tools: [{ name: 'ping', description: 'Pings', input: z.object({}) }],
    });
    expect(Object.keys(manifest.tools[0]).sort()).toEqual(['description', 'inputSchema', 'name']);
  });

  it('publishes prompt arguments and lists the completable ones of prompts and templates', () => {
    const manifest = buildManifest(identity, {
      ...none,
      prompts: [
        {
          name: 'summarise',
          description: 'Summarises',
          arguments: z.object({ id: z.string().describe('Order id'), style: z.string().optional() }),
        },
        { name: 'greet' },
      ],
      resourceTemplates: [
        { uriTemplate: 'orders://{id}', name: 'order' },
        { uriTemplate: 'customers://{id}', name: 'customer' },
      ],
      completions: [
        { prompt: 'summarise', argument: 'id' },
        { prompt: 'summarise', argument: 'style' },
        { resourceTemplate: 'order', argument: 'id' },
      ],
    });
    expect(manifest.prompts).toEqual([
      {
        name: 'summarise',
        description: 'Summarises',
        arguments: [
          { name: 'id', description: 'Order id', required: true },
          { name: 'style', required: false },
        ],
        completable: ['id', 'style'],
      },
      { name: 'greet', arguments: [] },
    ]);
    expect(manifest.resourceTemplates).toEqual([
      { uriTemplate: 'orders://{id}', name: 'order', completable: ['id'] },
      { uriTemplate: 'customers://{id}', name: 'customer' },
    ]);
  });

  it('does not mistake a template completion for a prompt of the same name', () => {
    const manifest = buildManifest(identity, {
      ...none,
      prompts: [{ name: 'order' }],
      resourceTemplates: [{ uriTemplate: 'orders://{id}', name: 'order' }],
      completions: [{ resourceTemplate: 'order', argument: 'id' }],
    });
    expect(manifest.prompts[0]).not.toHaveProperty('completable');
    expect(manifest.resourceTemplates[0].completable).toEqual(['id']);
  });

  it('copies resources and the service identity', () => {
    const manifest = buildManifest(
      { ...identity, title: 'Orders', description: 'Order desk' },
      { ...none, resources: [{ uri: 'orders://recent', name: 'recent', mimeType: 'application/json' }] },
    );
    expect(manifest).toMatchObject({
      service: 'orders',
      version: '1.0.0',
      title: 'Orders',
      description: 'Order desk',
      resources: [{ uri: 'orders://recent', name: 'recent', mimeType: 'application/json' }],
    });
  });

  it('refuses an identity whose service name is not a valid subject token', () => {
    expect(() => buildManifest({ service: 'Orders Desk', version: '1' }, none)).toThrow(z.ZodError);
  });
});

describe('the manifest revision', () => {
  const tool = (description: string): Declarations => ({
    ...none,
    tools: [{ name: 'find', description, input: z.object({ id: z.string() }) }],
  });

  it('is the same for the same declarations and version', () => {
    expect(buildManifest(identity, tool('Finds')).revision).toBe(buildManifest(identity, tool('Finds')).revision);
  });

  it('changes with the version or with anything declared', () => {
    const revision = buildManifest(identity, tool('Finds')).revision;
    expect(buildManifest({ ...identity, version: '1.0.1' }, tool('Finds')).revision).not.toBe(revision);
    expect(buildManifest(identity, tool('Finds one')).revision).not.toBe(revision);
  });
});
