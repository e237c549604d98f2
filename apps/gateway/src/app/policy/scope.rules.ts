import { Inject, Injectable } from '@nestjs/common';
import type { Principal } from '@fabric/contracts';
import { CatalogService } from '../catalog/catalog.service';
import type { CatalogPrompt, CatalogResource, CatalogTemplate, CatalogTool } from '../catalog/catalog.snapshot';
import { ResourceResolver } from '../catalog/resource-resolver';
import type { Operation } from '../operations/operation';
import { POLICY_FILE } from './policy.tokens';
import { scopesFor, type PolicyFile } from './policy-file';

const NONE: readonly string[] = [];

/**
 * Which scopes each tool, resource and prompt requires: the first matching glob of `AUTH_POLICY_FILE`,
 * else what the service declared (`@McpTool({ scopes })`), else none. A principal may use, and sees in lists,
 * exactly what it holds every required scope of.
 */
@Injectable()
export class ScopeRules {
  constructor(
    @Inject(POLICY_FILE) private readonly policy: PolicyFile,
    @Inject(CatalogService) private readonly catalog: CatalogService,
    @Inject(ResourceResolver) private readonly resources: ResourceResolver,
  ) {}

  /** The scopes `operation` needs (none for lists, which are filtered instead, and for unknown targets). */
  required(operation: Operation): readonly string[] {
    const snapshot = this.catalog.snapshot;
    switch (operation.kind) {
      case 'tools/call': {
        const tool = snapshot.tool(operation.name);
        return tool ? this.ofTool(tool) : (scopesFor(this.policy.tools, operation.name) ?? NONE);
      }
      case 'resources/read':
        return scopesFor(this.policy.resources, operation.uri) ?? this.resources.resolve(operation.uri)?.scopes ?? NONE;
      case 'prompts/get': {
        const prompt = snapshot.prompt(operation.name);
        return prompt ? this.ofPrompt(prompt) : (scopesFor(this.policy.prompts, operation.name) ?? NONE);
      }
      case 'completion/complete': {
        const { ref } = operation;
        if (ref.type === 'ref/prompt') {
          const prompt = snapshot.prompt(ref.name);
          return prompt ? this.ofPrompt(prompt) : NONE;
        }
        const template = snapshot.templateByUriTemplate(ref.uri);
        return template ? this.ofTemplate(template) : NONE;
      }
      default:
        return NONE;
    }
  }

  ofTool(tool: CatalogTool): readonly string[] {
    return scopesFor(this.policy.tools, tool.publicName) ?? tool.descriptor.scopes ?? NONE;
  }

  ofPrompt(prompt: CatalogPrompt): readonly string[] {
    return scopesFor(this.policy.prompts, prompt.publicName) ?? prompt.descriptor.scopes ?? NONE;
  }

  ofResource(resource: CatalogResource): readonly string[] {
    return scopesFor(this.policy.resources, resource.descriptor.uri) ?? resource.descriptor.scopes ?? NONE;
  }

  /** A template is matched by its URI template (`docs://*` covers `docs://{path}`). */
  ofTemplate(template: CatalogTemplate): readonly string[] {
    return scopesFor(this.policy.resources, template.descriptor.uriTemplate) ?? template.descriptor.scopes ?? NONE;
  }

  /** The required scopes the principal lacks (empty: allowed). Without a principal the gateway runs open. */
  missing(principal: Principal | undefined, required: readonly string[]): string[] {
    if (required.length === 0 || !principal) return [];
    const held = new Set(principal.scopes);
    return required.filter((scope) => !held.has(scope));
  }

  /** The items of a list the principal may use (all of them when the gateway runs open). */
  visible<T>(
    principal: Principal | undefined,
    items: readonly T[],
    scopesOf: (item: T) => readonly string[],
  ): readonly T[] {
    if (!principal) return items;
    return items.filter((item) => this.missing(principal, scopesOf(item)).length === 0);
  }

  /** Every scope the policy file or the catalog names (`scopes_supported` of the resource metadata). */
  supported(): string[] {
    const scopes = new Set<string>();
    for (const rule of [...this.policy.tools, ...this.policy.resources, ...this.policy.prompts])
      for (const scope of rule.scopes) scopes.add(scope);
    const snapshot = this.catalog.snapshot;
    for (const entry of [...snapshot.tools, ...snapshot.prompts, ...snapshot.resources, ...snapshot.templates])
      for (const scope of entry.descriptor.scopes ?? []) scopes.add(scope);
    return [...scopes];
  }
}
