import type { CachePolicy } from './manifest.schemas';

/**
 * JSON with object keys in code-point order at every depth: two argument objects that differ only in key
 * order give the same text (and so the same cache key). `undefined` members are left out, as JSON does.
 */
export function canonicalJson(value: unknown): string {
  if (value === null || typeof value !== 'object') return JSON.stringify(value) ?? 'null';
  if (Array.isArray(value))
    return `[${value.map((item) => (item === undefined ? 'null' : canonicalJson(item))).join(',')}]`;
  const members = Object.keys(value)
    .filter((key) => (value as Record<string, unknown>)[key] !== undefined)
    .sort()
    .map((key) => `${JSON.stringify(key)}:${canonicalJson((value as Record<string, unknown>)[key])}`);
  return `{${members.join(',')}}`;
}

/** The part of a cache key the arguments make: the arguments `policy.key` names (all when absent), canonical. */
export function argumentsKey(policy: Pick<CachePolicy, 'key'>, args: Record<string, unknown> | undefined): string {
  const values = args ?? {};
  if (!policy.key) return canonicalJson(values);
  const picked: Record<string, unknown> = {};
  for (const name of policy.key) picked[name] = values[name];
  return canonicalJson(picked);
}

const PLACEHOLDER = /\{([A-Za-z0-9_.-]+)\}/g;

/**
 * The tags of one entry: each declared tag with its `{argument}` placeholders filled from `values` (an
 * array fills in one tag per element; two array placeholders give every combination). A tag whose
 * argument is absent is left out, so an entry is never tagged with a literal `{name}`.
 */
export function expandTags(
  templates: readonly string[] | undefined,
  values: Record<string, unknown> | undefined,
): string[] {
  const tags = new Set<string>();
  for (const template of templates ?? []) {
    let expansions = [''];
    let last = 0;
    let missing = false;
    for (const match of template.matchAll(PLACEHOLDER)) {
      const literal = template.slice(last, match.index);
      const value = values?.[match[1]];
      const items = Array.isArray(value) ? value : value === undefined || value === null ? [] : [value];
      if (items.length === 0) {
        missing = true;
        break;
      }
      expansions = expansions.flatMap((prefix) => items.map((item) => `${prefix}${literal}${tagValue(item)}`));
      last = (match.index ?? 0) + match[0].length;
    }
    if (missing) continue;
    for (const expansion of expansions) tags.add(`${expansion}${template.slice(last)}`);
  }
  return [...tags];
}

function tagValue(value: unknown): string {
  return typeof value === 'string' ? value : canonicalJson(value);
}

/**
 * The values of the placeholders of `template` that make it `tag` (`entity:{name}` and `entity:ada` give
 * `{ name: 'ada' }`), or undefined when the tag is not one of the template's. Lets a service tell which
 * resources an invalidated tag names.
 */
export function matchTag(template: string, tag: string): Record<string, string> | undefined {
  const names: string[] = [];
  const pattern = template.replace(/[.*+?^${}()|[\]\\]/g, '\\$&').replace(/\\\{([A-Za-z0-9_.-]+)\\\}/g, (_, name) => {
    names.push(name);
    return '(.+?)';
  });
  const match = new RegExp(`^${pattern}$`).exec(tag);
  if (!match) return undefined;
  return Object.fromEntries(names.map((name, index) => [name, match[index + 1]]));
}
