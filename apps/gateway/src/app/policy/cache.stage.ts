import { createHash } from 'node:crypto';
import { argumentsKey, expandTags, principalKey, type CachePolicy } from '@fabric/contracts';
import type { Cache } from '@fabric/platform-cache';
import { CatalogService } from '../catalog/catalog.service';
import { ResourceResolver } from '../catalog/resource-resolver';
import type { OperationContext, OperationRequest } from '../operations/operation';
import type { PolicyStage } from './policy.stage';

/** Keys up to this long are used as they are; longer ones by their digest. */
const PLAIN_KEY_MAX = 160;

/** What one cacheable operation is keyed and tagged by. */
interface EdgeEntry {
  service: string;
  key: string;
  /** The expanded tags, computed only on a miss (a hit needs none). */
  tags: () => string[];
  /** Metric label: the public tool name or the resource (template) name. */
  name: string;
  policy: CachePolicy;
  revision: string;
}

/**
 * Read-through at the edge: a `tools/call` or `resources/read` whose tool or resource declares a cache
 * policy is answered from the cache when an entry exists, without a NATS hop; a miss goes on to the
 * service, and the result is kept when it is a success produced by the revision the catalog shows. Other
 * operations, and tools without a policy, pass straight through (no Redis on their path).
 */
export class CacheStage implements PolicyStage {
  readonly name = 'cache';

  constructor(
    private readonly cache: Cache,
    private readonly catalog: CatalogService,
    private readonly resources: ResourceResolver,
  ) {}

  handle(request: OperationRequest, next: () => Promise<unknown>): Promise<unknown> {
    const entry = this.entryOf(request);
    if (!entry) return next();
    // Served from the cache unless this request itself asks the service (a miss it leads).
    const served = request.served;
    served.cached = true;
    const load = () => {
      served.cached = false;
      return next();
    };
    return this.cache.space(entry.service).getOrSet(entry.key, load, {
      ttlMs: entry.policy.ttlMs,
      get tags() {
        return entry.tags();
      },
      name: entry.name,
      // Errors are never kept (negative caching is off), nor what another revision of the service produced.
      cacheable: (result) => request.served.revision === entry.revision && !isErrorResult(result),
    });
  }

  private entryOf({ operation, context }: OperationRequest): EdgeEntry | undefined {
    // A call run as a task is answered with the task, never with a cached result.
    if (operation.kind === 'tools/call' && !operation.task) {
      const tool = this.catalog.snapshot.tool(operation.name);
      const policy = tool?.descriptor.cache;
      if (!tool || !policy) return undefined;
      return this.entry(tool.service, policy, context, {
        name: operation.name,
        what: `tool\n${tool.descriptor.name}\n${argumentsKey(policy, operation.arguments)}`,
        tags: () => expandTags(policy.tags, operation.arguments),
      });
    }
    if (operation.kind === 'resources/read') {
      const target = this.resources.resolve(operation.uri);
      const policy = target?.cache;
      if (!target || !policy) return undefined;
      return this.entry(target.service, policy, context, {
        name: target.name,
        what: `resource\n${operation.uri}`,
        tags: () => expandTags(policy.tags, target.params),
      });
    }
    return undefined;
  }

  private entry(
    service: string,
    policy: CachePolicy,
    context: OperationContext,
    { name, what, tags }: { name: string; what: string; tags: () => string[] },
  ): EdgeEntry | undefined {
    // Without a revision the catalog could not tell an old deployment's results from the current one's.
    const revision = this.catalog.snapshot.services.get(service)?.manifest.revision;
    if (!revision) return undefined;
    let owner = '';
    if (policy.scope === 'principal') {
      // Bound to who asks: the authenticated principal, else the session; nobody to bind to, nothing cached.
      const id = context.principal
        ? `principal\n${principalKey(context.principal)}`
        : context.sessionId && `session\n${context.sessionId}`;
      if (!id) return undefined;
      owner = id;
    }
    const identity = `${owner}\n${what}`;
    const key = identity.length <= PLAIN_KEY_MAX ? identity : createHash('sha256').update(identity).digest('base64url');
    return { service, key: `edge:${revision}:${key}`, tags, name, policy, revision };
  }
}

function isErrorResult(result: unknown): boolean {
  return typeof result === 'object' && result !== null && (result as { isError?: unknown }).isError === true;
}
