import { z } from 'zod';
import { CachePolicyError, resourcesTagged } from './cache.declarations';
import { buildManifest, type Declarations } from './manifest.builder';

const identity = { service: 'knowledge', version: '1.0.0' };
const none: Declarations = { tools: [], resources: [], resourceTemplates: [], prompts: [], completions: [] };
const READ_ONLY = { readOnlyHint: true };

describe('cache declarations', () => {
  it('refuse a cache policy on a tool that is not annotated read-only, naming the tool', () => {
    const declare = (annotations?: { readOnlyHint?: boolean }) =>
      buildManifest(identity, {
        ...none,
        tools: [{ name: 'add', description: 'Adds', input: z.object({}), annotations, cache: { ttlMs: 1_000 } }],
      });
    expect(() => declare()).toThrow(CachePolicyError);
    expect(() => declare({ readOnlyHint: false })).toThrow(
      'Tool "add" declares a cache policy but is not annotated read-only',
    );
    expect(() => declare(READ_ONLY)).not.toThrow();
  });

  it('refuse key names and tag placeholders that are not arguments of the tool', () => {
    const declare = (cache: { ttlMs: number; key?: string[]; tags?: string[] }) =>
      buildManifest(identity, {
        ...none,
        tools: [
          {
            name: 'open',
            description: 'Opens',
            input: z.object({ names: z.array(z.string()) }),
            annotations: READ_ONLY,
            cache,
          },
        ],
      });
    expect(() => declare({ ttlMs: 1_000, tags: ['entity:{name}'] })).toThrow(
      'Tool "open": its cache key or tags name name, which is not an argument of the tool (arguments: names)',
    );
    expect(() => declare({ ttlMs: 1_000, key: ['limit'] })).toThrow(CachePolicyError);
    expect(() => declare({ ttlMs: 1_000, key: ['names'], tags: ['entity:{names}', 'graph'] })).not.toThrow();
  });

  it('refuse template tags that name no variable of the URI template', () => {
    const declare = (tags: string[]) =>
      buildManifest(identity, {
        ...none,
        resourceTemplates: [
          { uriTemplate: 'knowledge://entities/{name}', name: 'entity', cache: { ttlMs: 1_000, tags } },
        ],
      });
    expect(() => declare(['entity:{id}'])).toThrow('not a variable of knowledge://entities/{name}');
    expect(() => declare(['entity:{name}'])).not.toThrow();
  });

  it('refuse placeholders on a fixed resource', () => {
    expect(() =>
      buildManifest(identity, {
        ...none,
        resources: [{ uri: 'knowledge://graph', name: 'graph', cache: { ttlMs: 1_000, tags: ['x:{y}'] } }],
      }),
    ).toThrow(CachePolicyError);
  });
});

describe('resourcesTagged', () => {
  const manifest = buildManifest(identity, {
    ...none,
    resources: [
      { uri: 'knowledge://graph', name: 'graph', cache: { ttlMs: 1_000, tags: ['graph'] } },
      { uri: 'knowledge://about', name: 'about' },
    ],
    resourceTemplates: [
      { uriTemplate: 'knowledge://entities/{name}', name: 'entity', cache: { ttlMs: 1_000, tags: ['entity:{name}'] } },
    ],
  });

  it('names the fixed resources carrying a tag and the template resources a tag binds', () => {
    expect(resourcesTagged(manifest, ['graph', 'entity:Ada Lovelace', 'search']).sort()).toEqual([
      'knowledge://entities/Ada%20Lovelace',
      'knowledge://graph',
    ]);
  });

  it('names nothing for tags no resource carries', () => {
    expect(resourcesTagged(manifest, ['search'])).toEqual([]);
  });
});
