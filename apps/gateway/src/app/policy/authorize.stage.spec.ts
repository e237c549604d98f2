import { ServiceManifestSchema, type Principal } from '@fabric/contracts';
import type { CatalogService } from '../catalog/catalog.service';
import { CatalogSnapshot } from '../catalog/catalog.snapshot';
import { ResourceResolver } from '../catalog/resource-resolver';
import type { Operation, OperationRequest } from '../operations/operation';
import { AuthorizeStage } from './authorize.stage';
import { parsePolicy } from './policy-file';
import { InsufficientScopeError } from './policy.errors';
import { ScopeRules } from './scope.rules';

const manifest = ServiceManifestSchema.parse({
  service: 'files',
  version: '1.0.0',
  tools: [
    { name: 'read', inputSchema: { type: 'object' }, scopes: ['files:read'] },
    { name: 'write', inputSchema: { type: 'object' }, scopes: ['files:write'] },
    { name: 'purge', inputSchema: { type: 'object' }, scopes: ['files:write'] },
    { name: 'ping', inputSchema: { type: 'object' } },
  ],
  resources: [{ uri: 'files://readme', name: 'readme', scopes: ['files:read'] }],
  resourceTemplates: [{ uriTemplate: 'files://docs/{path}', name: 'doc' }],
  prompts: [{ name: 'summarize', scopes: ['files:read'] }],
});

const catalog = {
  snapshot: new CatalogSnapshot(new Map([['files', { manifest, instances: ['f1'] }]]), { prefix: true }),
} as unknown as CatalogService;

// The policy file overrides the declarations: purge needs admin, documents need docs:read.
const rules = new ScopeRules(
  parsePolicy({ tools: { files_purge: ['admin', 'files:write'] }, resources: { 'files://docs/*': ['docs:read'] } }),
  catalog,
  new ResourceResolver(catalog),
);
const stage = new AuthorizeStage(rules);

const alice: Principal = { subject: 'alice', issuer: 'https://as.example', scopes: ['files:read'] };

async function run(operation: Operation, principal: Principal | null = alice) {
  const request: OperationRequest = { operation, context: principal ? { principal } : {}, served: {} };
  let executed = false;
  const result = await stage
    .handle(request, async () => {
      executed = true;
      return 'done';
    })
    .catch((error: unknown) => error);
  return { result, executed };
}

describe('AuthorizeStage', () => {
  it('lets through an operation whose scopes the principal holds, and one that needs none', async () => {
    expect(await run({ kind: 'tools/call', name: 'files_read' })).toEqual({ result: 'done', executed: true });
    expect((await run({ kind: 'tools/call', name: 'files_ping' })).executed).toBe(true);
    expect((await run({ kind: 'prompts/get', name: 'files_summarize' })).executed).toBe(true);
  });

  it('refuses, before anything runs, an operation that needs a scope the principal lacks, naming every scope needed', async () => {
    const { result, executed } = await run({ kind: 'tools/call', name: 'files_write' });
    expect(executed).toBe(false);
    expect(result).toBeInstanceOf(InsufficientScopeError);
    expect((result as InsufficientScopeError).scopes).toEqual(['files:write']);
  });

  it('takes the policy file over the declaration', async () => {
    const { result } = await run({ kind: 'tools/call', name: 'files_purge' }, { ...alice, scopes: ['files:write'] });
    expect((result as InsufficientScopeError).scopes).toEqual(['admin', 'files:write']);
    expect((await run({ kind: 'resources/read', uri: 'files://docs/a/b.md' })).result).toBeInstanceOf(
      InsufficientScopeError,
    );
    expect((await run({ kind: 'resources/read', uri: 'files://readme' })).executed).toBe(true);
  });

  it('holds a request without a principal to no scope at all', async () => {
    expect((await run({ kind: 'tools/call', name: 'files_read' }, null)).executed).toBe(false);
    expect((await run({ kind: 'tools/call', name: 'files_ping' }, null)).executed).toBe(true);
  });

  it('passes lists (they are filtered instead) and unknown tools (answered as unknown)', async () => {
    expect((await run({ kind: 'tools/list' })).executed).toBe(true);
    expect((await run({ kind: 'tools/call', name: 'nope' })).executed).toBe(true);
  });
});

describe('ScopeRules', () => {
  it('shows a principal only what it may use, and everything when the gateway runs open', () => {
    const tools = catalog.snapshot.tools;
    const names = (principal?: Principal) =>
      rules.visible(principal, tools, (tool) => rules.ofTool(tool)).map((tool) => tool.publicName);
    expect(names(alice)).toEqual(['files_read', 'files_ping']);
    expect(names({ ...alice, scopes: ['files:read', 'files:write', 'admin'] })).toHaveLength(4);
    expect(names(undefined)).toHaveLength(4);
  });

  it('names every scope of the policy and the catalog', () => {
    expect(rules.supported().sort()).toEqual(['admin', 'docs:read', 'files:read', 'files:write']);
  });
});
