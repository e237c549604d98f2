import type {
  Announcement,
  PromptDescriptor,
  ResourceDescriptor,
  ResourceTemplateDescriptor,
  ServiceManifest,
  ToolDescriptor,
} from '@fabric/contracts';

export interface CatalogTool {
  /** Name clients see. */
  publicName: string;
  service: string;
  descriptor: ToolDescriptor;
}

export interface CatalogPrompt {
  publicName: string;
  service: string;
  descriptor: PromptDescriptor;
}

export interface CatalogResource {
  service: string;
  descriptor: ResourceDescriptor;
}

export interface CatalogTemplate {
  service: string;
  descriptor: ResourceTemplateDescriptor;
}

/** A name (or URI) two services claimed, and how it was resolved. */
export interface CatalogConflict {
  kind: 'tool' | 'prompt' | 'resource' | 'resourceTemplate';
  name: string;
  /** Service that holds the name. */
  winner: string;
  /** Service whose entry was renamed (`renamedTo`) or left out (no `renamedTo`). */
  loser: string;
  renamedTo?: string;
}

export interface NamingOptions {
  /** `<service>_<name>` when true; the bare name when false (prefixed only to resolve a conflict). */
  prefix: boolean;
}

/** The services behind one snapshot: for each, the manifest the catalog uses and its live instances. */
export interface LiveService {
  manifest: ServiceManifest;
  instances: string[];
}

/** An immutable view of everything the live services offer, with public names resolved. */
export class CatalogSnapshot {
  readonly tools: CatalogTool[] = [];
  readonly prompts: CatalogPrompt[] = [];
  readonly resources: CatalogResource[] = [];
  readonly templates: CatalogTemplate[] = [];
  readonly conflicts: CatalogConflict[] = [];
  private readonly toolsByName = new Map<string, CatalogTool>();
  private readonly promptsByName = new Map<string, CatalogPrompt>();
  private readonly resourcesByUri = new Map<string, CatalogResource>();

  constructor(
    readonly services: ReadonlyMap<string, LiveService>,
    naming: NamingOptions,
  ) {
    // Services in name order, entries in declaration order: the same live set always gives the same names.
    const ordered = [...services.values()]
      .map((live) => live.manifest)
      .sort((a, b) => a.service.localeCompare(b.service));
    for (const manifest of ordered) {
      for (const descriptor of manifest.tools) {
        const publicName = this.claimName('tool', this.toolsByName, manifest.service, descriptor.name, naming);
        if (!publicName) continue;
        const tool = { publicName, service: manifest.service, descriptor };
        this.toolsByName.set(publicName, tool);
        this.tools.push(tool);
      }
      for (const descriptor of manifest.prompts) {
        const publicName = this.claimName('prompt', this.promptsByName, manifest.service, descriptor.name, naming);
        if (!publicName) continue;
        const prompt = { publicName, service: manifest.service, descriptor };
        this.promptsByName.set(publicName, prompt);
        this.prompts.push(prompt);
      }
      for (const descriptor of manifest.resources) {
        const holder = this.resourcesByUri.get(descriptor.uri);
        if (holder) {
          this.conflicts.push({
            kind: 'resource',
            name: descriptor.uri,
            winner: holder.service,
            loser: manifest.service,
          });
          continue;
        }
        const resource = { service: manifest.service, descriptor };
        this.resourcesByUri.set(descriptor.uri, resource);
        this.resources.push(resource);
      }
      for (const descriptor of manifest.resourceTemplates) {
        const holder = this.templates.find((template) => template.descriptor.uriTemplate === descriptor.uriTemplate);
        if (holder) {
          this.conflicts.push({
            kind: 'resourceTemplate',
            name: descriptor.uriTemplate,
            winner: holder.service,
            loser: manifest.service,
          });
          continue;
        }
        this.templates.push({ service: manifest.service, descriptor });
      }
    }
  }

  private claimName<T extends { service: string }>(
    kind: 'tool' | 'prompt',
    taken: Map<string, T>,
    service: string,
    name: string,
    naming: NamingOptions,
  ): string | undefined {
    const qualified = `${service}_${name}`;
    const candidates = naming.prefix ? [qualified] : [name, qualified];
    const free = candidates.find((candidate) => !taken.has(candidate));
    if (free !== candidates[0]) {
      const winner = taken.get(candidates[0])!.service;
      this.conflicts.push({ kind, name: candidates[0], winner, loser: service, ...(free ? { renamedTo: free } : {}) });
    }
    return free;
  }

  tool(publicName: string): CatalogTool | undefined {
    return this.toolsByName.get(publicName);
  }

  prompt(publicName: string): CatalogPrompt | undefined {
    return this.promptsByName.get(publicName);
  }

  resource(uri: string): CatalogResource | undefined {
    return this.resourcesByUri.get(uri);
  }

  /** The prompt or template a `completion/complete` reference points at. */
  templateByUriTemplate(uriTemplate: string): CatalogTemplate | undefined {
    return this.templates.find((template) => template.descriptor.uriTemplate === uriTemplate);
  }

  /** Stable text of each list, to tell which lists changed between two snapshots. */
  fingerprint(): { tools: string; prompts: string; resources: string } {
    return {
      tools: JSON.stringify(this.tools),
      prompts: JSON.stringify(this.prompts),
      resources: JSON.stringify([this.resources, this.templates]),
    };
  }
}

/** Picks, among the live instances of each service, the manifest the catalog shows: the highest version. */
export function liveServices(instances: Iterable<Announcement>): Map<string, LiveService> {
  const byService = new Map<string, Announcement[]>();
  for (const announcement of instances) {
    const list = byService.get(announcement.manifest.service) ?? [];
    list.push(announcement);
    byService.set(announcement.manifest.service, list);
  }
  const services = new Map<string, LiveService>();
  for (const [service, list] of byService) {
    list.sort(
      (a, b) => compareVersions(b.manifest.version, a.manifest.version) || a.instanceId.localeCompare(b.instanceId),
    );
    services.set(service, { manifest: list[0].manifest, instances: list.map((a) => a.instanceId) });
  }
  return services;
}

/** Compares versions semver-style: numeric core first, then a pre-release (`-rc.1`) below its release. */
export function compareVersions(a: string, b: string): number {
  const [coreA, preA] = splitVersion(a);
  const [coreB, preB] = splitVersion(b);
  const core = compareParts(coreA.split('.'), coreB.split('.'));
  if (core !== 0) return core;
  if (preA === undefined || preB === undefined) return preA === preB ? 0 : preA === undefined ? 1 : -1;
  return compareParts(preA.split('.'), preB.split('.'));
}

function splitVersion(version: string): [string, string | undefined] {
  const dash = version.indexOf('-');
  return dash === -1 ? [version, undefined] : [version.slice(0, dash), version.slice(dash + 1)];
}

function compareParts(left: string[], right: string[]): number {
  for (let i = 0; i < Math.max(left.length, right.length); i++) {
    const x = left[i] ?? '0';
    const y = right[i] ?? '0';
    const diff = /^\d+$/.test(x) && /^\d+$/.test(y) ? Number(x) - Number(y) : x.localeCompare(y);
    if (diff !== 0) return Math.sign(diff);
  }
  return 0;
}
