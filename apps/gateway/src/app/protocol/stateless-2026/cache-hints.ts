import { Inject, Injectable } from '@nestjs/common';
import { CatalogService } from '../../catalog/catalog.service';
import type { CatalogSnapshot } from '../../catalog/catalog.snapshot';
import { ResourceResolver } from '../../catalog/resource-resolver';
import { GATEWAY_ENV, type GatewayEnv } from '../../gateway.config';
import { ScopeRules } from '../../policy/scope.rules';

/** The methods whose results carry caching hints on the 2026-07-28 revision. */
export type ListMethod = 'tools/list' | 'prompts/list' | 'resources/list' | 'resources/templates/list';

/** `resultType` of every result that is not an input-required or task result. */
export const COMPLETE = '"resultType":"complete"';

/** Pre-serialized members of a result: `resultType`, `ttlMs` and `cacheScope`. */
function members(ttlMs: number, scope: 'public' | 'private'): string {
  return `${COMPLETE},"ttlMs":${ttlMs},"cacheScope":"${scope}"`;
}

/**
 * The caching hints (`ttlMs`, `cacheScope`) of cacheable results, derived from the catalog and its cache
 * policies. `public` only when the answer is the same for every caller: a list none of whose entries needs a
 * scope (otherwise each principal sees its own filtered list), a resource whose cache policy is shared and
 * that needs no scope.
 */
@Injectable()
export class CacheHints {
  /** Per snapshot (immutable): whether each list is filtered per principal. */
  private readonly filtered = new WeakMap<CatalogSnapshot, Record<ListMethod, boolean>>();

  constructor(
    @Inject(CatalogService) private readonly catalog: CatalogService,
    @Inject(ResourceResolver) private readonly resources: ResourceResolver,
    @Inject(ScopeRules) private readonly scopes: ScopeRules,
    @Inject(GATEWAY_ENV) private readonly env: GatewayEnv,
  ) {}

  /** server/discover: the same capabilities for everybody. */
  discover(): string {
    return members(this.env.LIST_TTL_MS, 'public');
  }

  list(method: ListMethod): string {
    return members(this.env.LIST_TTL_MS, this.filteredLists()[method] ? 'private' : 'public');
  }

  /** resources/read of `uri`: its cache policy's lifetime, `private` unless shared and open to all. */
  read(uri: string): string {
    const target = this.resources.resolve(uri);
    const policy = target?.cache;
    if (!policy) return members(0, 'private');
    const open = this.scopes.required({ kind: 'resources/read', uri }).length === 0;
    return members(policy.ttlMs, policy.scope === 'public' && open ? 'public' : 'private');
  }

  private filteredLists(): Record<ListMethod, boolean> {
    const snapshot = this.catalog.snapshot;
    let known = this.filtered.get(snapshot);
    if (!known) {
      const scopes = this.scopes;
      known = {
        'tools/list': snapshot.tools.some((tool) => scopes.ofTool(tool).length > 0),
        'prompts/list': snapshot.prompts.some((prompt) => scopes.ofPrompt(prompt).length > 0),
        'resources/list': snapshot.resources.some((resource) => scopes.ofResource(resource).length > 0),
        'resources/templates/list': snapshot.templates.some((template) => scopes.ofTemplate(template).length > 0),
      };
      this.filtered.set(snapshot, known);
    }
    return known;
  }
}
