import {
  CallEventSchema,
  CallReplySchema,
  CallRequestSchema,
  ClientRequestSchema,
  ResourceUpdatedSchema,
  logLevelAllows,
} from './envelope.schemas';
import { ServiceManifestSchema, type ServiceManifestInput } from './manifest.schemas';

const goodManifest: ServiceManifestInput = {
  service: 'orders',
  version: '1.2.0',
  tools: [
    {
      name: 'find_order',
      description: 'Finds an order by id',
      inputSchema: { type: 'object', properties: { id: { type: 'string' } }, required: ['id'] },
      cache: { ttlMs: 30_000 },
    },
  ],
  resources: [{ uri: 'orders://recent', name: 'recent' }],
  resourceTemplates: [{ uriTemplate: 'orders://{id}', name: 'order', completable: ['id'] }],
  prompts: [{ name: 'summarise.order', arguments: [{ name: 'id', required: true }] }],
};

describe('ServiceManifestSchema', () => {
  it('accepts a good manifest and fills the defaults', () => {
    const parsed = ServiceManifestSchema.parse(goodManifest);
    expect(parsed.tools[0].cache).toEqual({ ttlMs: 30_000, scope: 'public' });
    expect(parsed.prompts[0].name).toBe('summarise.order');
  });

  it('defaults every list to empty', () => {
    expect(ServiceManifestSchema.parse({ service: 'orders', version: '1' })).toEqual({
      service: 'orders',
      version: '1',
      tools: [],
      resources: [],
      resourceTemplates: [],
      prompts: [],
    });
  });

  it.each(['Orders', '1orders', 'order_s', 'orders.v2', '', 'a'.repeat(64)])(
    'rejects the service name %p',
    (service) => {
      const result = ServiceManifestSchema.safeParse({ ...goodManifest, service });
      expect(result.success).toBe(false);
      expect(result.error!.issues[0].path).toEqual(['service']);
    },
  );

  it.each(['find order', 'find/order', 'a'.repeat(129), ''])('rejects the tool name %p', (name) => {
    const result = ServiceManifestSchema.safeParse({ ...goodManifest, tools: [{ ...goodManifest.tools![0], name }] });
    expect(result.success).toBe(false);
    expect(result.error!.issues[0].path).toEqual(['tools', 0, 'name']);
  });

  it('keeps every keyword of a tool schema as written, 2020-12 keywords included', () => {
    const inputSchema = {
      $schema: 'https://json-schema.org/draft/2020-12/schema',
      type: 'object',
      $defs: { address: { type: 'object', properties: { city: { type: 'string' } } } },
      properties: { address: { $ref: '#/$defs/address' } },
      additionalProperties: false,
    };
    const parsed = ServiceManifestSchema.parse({ ...goodManifest, tools: [{ name: 'locate', inputSchema }] });
    expect(parsed.tools[0].inputSchema).toEqual(inputSchema);
  });

  it('accepts tool names with dots, dashes and underscores up to 128 characters', () => {
    const name = `a.b-c_${'d'.repeat(122)}`;
    expect(
      ServiceManifestSchema.safeParse({ ...goodManifest, tools: [{ ...goodManifest.tools![0], name }] }).success,
    ).toBe(true);
  });
});

describe('CallRequestSchema', () => {
  const request = {
    id: 'c1',
    operation: 'tools.call',
    name: 'find_order',
    arguments: { id: '7' },
    deadline: 1_700_000_000_000,
  };

  it('accepts a tool call', () => {
    expect(CallRequestSchema.parse(request)).toEqual(request);
  });

  it('accepts a template read with string and list params and a completion request', () => {
    expect(
      CallRequestSchema.safeParse({
        ...request,
        operation: 'resources.read',
        uri: 'orders://7',
        params: { id: '7', tags: ['a', 'b'] },
      }).success,
    ).toBe(true);
    expect(
      CallRequestSchema.safeParse({
        ...request,
        operation: 'completion.complete',
        completion: { argument: 'id', value: '7' },
      }).success,
    ).toBe(true);
  });

  it('accepts an idempotency key that is a digest and rejects one that could not name a KV record', () => {
    const key = 'a'.repeat(64);
    expect(CallRequestSchema.parse({ ...request, idempotencyKey: key }).idempotencyKey).toBe(key);
    expect(CallRequestSchema.safeParse({ ...request, idempotencyKey: 'my key.1' }).success).toBe(false);
    expect(CallRequestSchema.safeParse({ ...request, idempotencyKey: 'short' }).success).toBe(false);
  });

  it('rejects an unknown operation', () => {
    expect(CallRequestSchema.safeParse({ ...request, operation: 'tools.delete' }).success).toBe(false);
  });

  it('rejects a request without id, name or an integer deadline', () => {
    const paths = (value: unknown) =>
      CallRequestSchema.safeParse(value).error?.issues.map((issue) => issue.path.join('.'));
    expect(paths({ ...request, id: '' })).toEqual(['id']);
    expect(paths({ ...request, name: '' })).toEqual(['name']);
    expect(paths({ ...request, deadline: 1.5 })).toEqual(['deadline']);
    const { deadline: _deadline, ...noDeadline } = request;
    expect(paths(noDeadline)).toEqual(['deadline']);
  });
});

describe('CallReplySchema', () => {
  it('accepts a success reply with any result', () => {
    expect(CallReplySchema.parse({ ok: true, result: { content: [] } })).toEqual({ ok: true, result: { content: [] } });
  });

  it('accepts a failure reply with a wire error', () => {
    const reply = { ok: false, error: { code: 'TIMEOUT', message: 'late', retryable: true } };
    expect(CallReplySchema.parse(reply)).toEqual(reply);
  });

  it('rejects a failure reply whose error has an unknown code', () => {
    expect(
      CallReplySchema.safeParse({ ok: false, error: { code: 'OOPS', message: 'x', retryable: false } }).success,
    ).toBe(false);
  });

  it('rejects a failure reply without an error', () => {
    expect(CallReplySchema.safeParse({ ok: false, result: 1 }).success).toBe(false);
  });
});

describe('logLevelAllows', () => {
  it('lets through the levels at or above the minimum', () => {
    expect(logLevelAllows('warning', 'warning')).toBe(true);
    expect(logLevelAllows('warning', 'emergency')).toBe(true);
    expect(logLevelAllows('warning', 'info')).toBe(false);
  });

  it('lets every level through without a minimum', () => {
    expect(logLevelAllows(undefined, 'debug')).toBe(true);
  });
});

describe('CallEventSchema', () => {
  it('accepts a progress event and a log event with any data', () => {
    const progress = { type: 'progress', progress: 50, total: 100, message: 'half' };
    const log = { type: 'log', level: 'info', logger: 'orders', data: { n: 1 } };
    expect(CallEventSchema.parse(progress)).toEqual(progress);
    expect(CallEventSchema.parse(log)).toEqual(log);
  });

  it('rejects a log event with an unknown level', () => {
    expect(CallEventSchema.safeParse({ type: 'log', level: 'verbose', data: 'x' }).success).toBe(false);
  });
});

describe('ClientRequestSchema', () => {
  it('accepts sampling, elicitation and roots requests', () => {
    for (const method of ['sampling/createMessage', 'elicitation/create', 'roots/list']) {
      expect(ClientRequestSchema.safeParse({ type: 'request', method, params: {} }).success).toBe(true);
    }
  });

  it('rejects any other method', () => {
    expect(ClientRequestSchema.safeParse({ type: 'request', method: 'ping', params: {} }).success).toBe(false);
  });

  it('takes a key the handler names the request with, in letters, digits, _, . and -', () => {
    const request = { type: 'request', method: 'elicitation/create', params: {} };
    expect(ClientRequestSchema.safeParse({ ...request, key: 'user_name' }).success).toBe(true);
    expect(ClientRequestSchema.safeParse({ ...request, key: 'a b' }).success).toBe(false);
    expect(ClientRequestSchema.safeParse({ ...request, key: '' }).success).toBe(false);
  });
});

describe('ResourceUpdatedSchema', () => {
  it('rejects an empty URI', () => {
    expect(ResourceUpdatedSchema.safeParse({ uri: '' }).success).toBe(false);
  });
});
