import { UriTemplate } from '@modelcontextprotocol/sdk/shared/uriTemplate.js';
import { matchTag, type ServiceManifest } from '@fabric/contracts';
import type { Declarations } from './manifest.builder';

/** Raised at start-up for a cache declaration the fabric cannot honour: a service must not start with it. */
export class CachePolicyError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'CachePolicyError';
  }
}

const PLACEHOLDERS = /\{([A-Za-z0-9_.-]+)\}/g;

function placeholdersOf(tags: readonly string[] | undefined): string[] {
  return (tags ?? []).flatMap((tag) => [...tag.matchAll(PLACEHOLDERS)].map((match) => match[1]));
}

function templateVariables(uriTemplate: string): string[] {
  return [...uriTemplate.matchAll(/\{[+#./;?&]?([^}]+)\}/g)].flatMap((match) =>
    match[1].split(',').map((name) => name.replace(/[*]$|:\d+$/, '')),
  );
}

/**
 * Checks every cache declaration against what it is declared on: only tools annotated read-only may be
 * cached (a cached write would not run), and key names and tag placeholders must name arguments (of a
 * tool) or variables (of a resource template), or the entries could not be told apart or invalidated.
 */
export function checkCacheDeclarations(declarations: Pick<Declarations, 'tools' | 'resources' | 'resourceTemplates'>) {
  for (const tool of declarations.tools) {
    if (!tool.cache) continue;
    if (tool.annotations?.readOnlyHint !== true) {
      throw new CachePolicyError(
        `Tool "${tool.name}" declares a cache policy but is not annotated read-only: only tools with ` +
          `annotations: { readOnlyHint: true } may be cached (a cached call would skip the write)`,
      );
    }
    const argumentNames = tool.jsonSchemas
      ? Object.keys((tool.jsonSchemas.input['properties'] as object | undefined) ?? {})
      : Object.keys(tool.input.shape);
    const unknown = [...(tool.cache.key ?? []), ...placeholdersOf(tool.cache.tags)].filter(
      (name) => !argumentNames.includes(name),
    );
    if (unknown.length > 0) {
      throw new CachePolicyError(
        `Tool "${tool.name}": its cache key or tags name ${[...new Set(unknown)].join(', ')}, which ` +
          `${unknown.length > 1 ? 'are not arguments' : 'is not an argument'} of the tool (arguments: ${argumentNames.join(', ') || 'none'})`,
      );
    }
  }
  for (const resource of declarations.resources) {
    const placeholders = placeholdersOf(resource.cache?.tags);
    if (placeholders.length > 0 || resource.cache?.key) {
      throw new CachePolicyError(
        `Resource "${resource.uri}": a fixed resource has no arguments, so its cache policy can have neither ` +
          `a key nor tags with placeholders (${placeholders.map((name) => `{${name}}`).join(', ') || 'key'})`,
      );
    }
  }
  for (const template of declarations.resourceTemplates) {
    if (!template.cache) continue;
    const variables = templateVariables(template.uriTemplate);
    if (template.cache.key) {
      throw new CachePolicyError(
        `Resource template "${template.name}": entries are keyed by their URI, so its cache policy takes no key`,
      );
    }
    const unknown = placeholdersOf(template.cache.tags).filter((name) => !variables.includes(name));
    if (unknown.length > 0) {
      throw new CachePolicyError(
        `Resource template "${template.name}": its cache tags name ${[...new Set(unknown)].join(', ')}, ` +
          `not a variable of ${template.uriTemplate}`,
      );
    }
  }
}

/**
 * The URIs of this service's resources that invalidating `tags` changes: fixed resources tagged with one of
 * them, and template resources whose tag template one of them matches with every URI variable bound
 * (`entity:{name}` and the tag `entity:ada` name `knowledge://entities/ada`).
 */
export function resourcesTagged(manifest: ServiceManifest, tags: readonly string[]): string[] {
  const uris = new Set<string>();
  for (const resource of manifest.resources) {
    const resourceTags = resource.cache?.tags ?? [];
    if (tags.some((tag) => resourceTags.includes(tag))) uris.add(resource.uri);
  }
  for (const template of manifest.resourceTemplates) {
    const variables = templateVariables(template.uriTemplate);
    for (const tagTemplate of template.cache?.tags ?? []) {
      for (const tag of tags) {
        const values = matchTag(tagTemplate, tag);
        if (!values || !variables.every((name) => values[name] !== undefined)) continue;
        uris.add(new UriTemplate(template.uriTemplate).expand(values));
      }
    }
  }
  return [...uris];
}
