import { Inject, Injectable } from '@nestjs/common';
import { UriTemplate } from '@modelcontextprotocol/sdk/shared/uriTemplate.js';
import type { CachePolicy, CallRequest } from '@fabric/contracts';
import { CatalogService } from './catalog.service';
import type { CatalogTemplate } from './catalog.snapshot';

/** The service and handler that serve a resource URI. */
export interface ResolvedResource extends Pick<CallRequest, 'name' | 'params'> {
  service: string;
  timeoutMs?: number;
  cache?: CachePolicy;
  /** Scopes the resource (or its template) declares. */
  scopes?: string[];
}

/** Finds who serves a URI: a fixed resource first, then the first matching template of the catalog. */
@Injectable()
export class ResourceResolver {
  private readonly templateCache = new WeakMap<CatalogTemplate, UriTemplate>();

  constructor(@Inject(CatalogService) private readonly catalog: CatalogService) {}

  resolve(uri: string): ResolvedResource | undefined {
    const snapshot = this.catalog.snapshot;
    const resource = snapshot.resource(uri);
    if (resource) {
      const { name, timeoutMs, cache, scopes } = resource.descriptor;
      return { service: resource.service, name, timeoutMs, cache, scopes };
    }
    for (const template of snapshot.templates) {
      const params = this.uriTemplateOf(template).match(uri);
      if (params)
        return {
          service: template.service,
          name: template.descriptor.name,
          params: decodeParams(params),
          timeoutMs: template.descriptor.timeoutMs,
          cache: template.descriptor.cache,
          scopes: template.descriptor.scopes,
        };
    }
    return undefined;
  }

  private uriTemplateOf(template: CatalogTemplate): UriTemplate {
    let compiled = this.templateCache.get(template);
    if (!compiled) {
      compiled = new UriTemplate(template.descriptor.uriTemplate);
      this.templateCache.set(template, compiled);
    }
    return compiled;
  }
}

/** Template variables as values: RFC 6570 expansion percent-encodes them in the URI. */
function decodeParams(params: Record<string, string | string[]>): Record<string, string | string[]> {
  const decode = (value: string) => {
    try {
      return decodeURIComponent(value);
    } catch {
      return value;
    }
  };
  return Object.fromEntries(
    Object.entries(params).map(([key, value]) => [key, Array.isArray(value) ? value.map(decode) : decode(value)]),
  );
}
