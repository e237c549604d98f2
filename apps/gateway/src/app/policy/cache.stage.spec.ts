import { ServiceManifestSchema, type ServiceManifestInput } from '@fabric/contracts';
import { Cache } from '@fabric/platform-cache';
import type { CatalogService } from '../catalog/catalog.service';
import { CatalogSnapshot } from '../catalog/catalog.snapshot';
import { ResourceResolver } from '../catalog/resource-resolver';
import type { Operation, OperationContext, OperationRequest } from '../operations/operation';
import { CacheStage } from './cache.stage';

const manifest = (revision: string, extra: Partial<ServiceManifestInput> = {}) =>
  ServiceManifestSchema.parse({
    service: 'knowledge',
    version: '1.0.0',
    revision,
    tools: [
      {
        name: 'open_nodes',
        inputSchema: { type: 'object' },
        annotations: { readOnlyHint: true },
        cache: { ttlMs: 60_000, tags: ['entity:{names}'] },
      },
      { name: 'mine', inputSchema: { type: 'object' }, cache: { ttlMs: 60_000, scope: 'principal' } },
      { name: 'plain', inputSchema: { type: 'object' } },
    ],
    resourceTemplates: [
      { uriTemplate: 'knowledge://entities/{name}', name: 'entity', cache: { ttlMs: 60_000, tags: ['entity:{name}'] } },
    ],
    ...extra,
  });

/** A catalog whose snapshot the test replaces (a redeployment). */
function catalogOf(revision: string) {
  const catalog = {
    snapshot: new CatalogSnapshot(new Map([['knowledge', { manifest: manifest(revision), instances: ['k1'] }]]), {
      prefix: true,
    }),
  };
  return catalog as unknown as CatalogService & { snapshot: CatalogSnapshot };
}

describe('CacheStage', () => {
  let cache: Cache;
  let catalog: ReturnType<typeof catalogOf>;
  let stage: CacheStage;
  let backend: { calls: number; revision: string; result: (n: number) => unknown };

  beforeEach(() => {
    cache = new Cache({
      prefix: 'spec:cache',
      maxEntries: 100,
      maxBytes: 1 << 20,
      ttlJitterPercent: 0,
      redisTimeoutMs: 50,
      lockTtlMs: 1_000,
      lockWaitMs: 100,
    });
    catalog = catalogOf('rev1');
    stage = new CacheStage(cache, catalog, new ResourceResolver(catalog));
    backend = { calls: 0, revision: 'rev1', result: (n) => ({ content: [{ type: 'text', text: `load ${n}` }] }) };
  });

  afterEach(() => cache.close());

  /** One operation through the stage, with a backend that says which revision answered. */
  const run = (operation: Operation, context: OperationContext = { sessionId: 's1' }) => {
    const request: OperationRequest = { operation, context, served: {} };
    return stage.handle(request, async () => {
      request.served.revision = backend.revision;
      return backend.result(++backend.calls);
    });
  };
  const openNodes = (args: Record<string, unknown>, context?: OperationContext) =>
    run({ kind: 'tools/call', name: 'knowledge_open_nodes', arguments: args }, context);

  it('answers a repeated call from the cache, whatever the order of its arguments', async () => {
    const first = await openNodes({ names: ['ada'], depth: 1 });
    expect(await openNodes({ depth: 1, names: ['ada'] })).toBe(first);
    expect(backend.calls).toBe(1);
    await openNodes({ names: ['bob'], depth: 1 });
    expect(backend.calls).toBe(2);
  });

  it('never keeps an isError result', async () => {
    backend.result = () => ({ content: [{ type: 'text', text: 'boom' }], isError: true });
    await openNodes({ names: ['ada'] });
    await openNodes({ names: ['ada'] });
    expect(backend.calls).toBe(2);
  });

  it('keeps no result another revision of the service produced, and misses once the catalog moves on', async () => {
    backend.revision = 'rev0';
    await openNodes({ names: ['ada'] });
    await openNodes({ names: ['ada'] });
    expect(backend.calls).toBe(2);

    backend.revision = 'rev1';
    await openNodes({ names: ['ada'] });
    await openNodes({ names: ['ada'] });
    expect(backend.calls).toBe(3);
    catalog.snapshot = catalogOf('rev2').snapshot;
    backend.revision = 'rev2';
    await openNodes({ names: ['ada'] });
    expect(backend.calls).toBe(4);
  });

  it('drops the entries whose expanded tags a write invalidates', async () => {
    await openNodes({ names: ['ada', 'bob'] });
    await openNodes({ names: ['cy'] });
    await cache.space('knowledge').invalidate({ tags: ['entity:bob'] });
    await openNodes({ names: ['ada', 'bob'] });
    await openNodes({ names: ['cy'] });
    expect(backend.calls).toBe(3);
  });

  it('keeps principal-scoped entries per caller, and caches nothing for a caller it cannot name', async () => {
    const mine = (context: OperationContext) => run({ kind: 'tools/call', name: 'knowledge_mine' }, context);
    const first = await mine({ sessionId: 'alice' });
    expect(await mine({ sessionId: 'alice' })).toBe(first);
    expect(await mine({ sessionId: 'bob' })).not.toBe(first);
    expect(await mine({ principal: { subject: 'alice', scopes: [] }, sessionId: 'other' })).not.toBe(first);
    expect(backend.calls).toBe(3);
    await mine({});
    await mine({});
    expect(backend.calls).toBe(5);
  });

  it('passes tools without a policy, and other operations, straight through', async () => {
    await run({ kind: 'tools/call', name: 'knowledge_plain' });
    await run({ kind: 'tools/call', name: 'knowledge_plain' });
    await run({ kind: 'tools/list' });
    expect(backend.calls).toBe(3);
  });

  it('caches template resources by URI, tagged by their variables', async () => {
    const read = (uri: string) => run({ kind: 'resources/read', uri });
    await read('knowledge://entities/ada');
    await read('knowledge://entities/ada');
    expect(backend.calls).toBe(1);
    await cache.space('knowledge').invalidate({ tags: ['entity:ada'] });
    await read('knowledge://entities/ada');
    expect(backend.calls).toBe(2);
  });
});
