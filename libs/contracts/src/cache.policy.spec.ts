import { argumentsKey, canonicalJson, expandTags, matchTag } from './cache.policy';

describe('canonicalJson', () => {
  it('gives the same text for objects that differ only in key order, at every depth', () => {
    expect(canonicalJson({ b: 1, a: { d: [1, { y: 2, x: 1 }], c: 'x' } })).toBe(
      canonicalJson({ a: { c: 'x', d: [1, { x: 1, y: 2 }] }, b: 1 }),
    );
    expect(canonicalJson({ b: 1, a: 2 })).toBe('{"a":2,"b":1}');
  });

  it('leaves out undefined members and keeps array order', () => {
    expect(canonicalJson({ a: undefined, b: [2, 1] })).toBe('{"b":[2,1]}');
    expect(canonicalJson([undefined])).toBe('[null]');
  });
});

describe('argumentsKey', () => {
  it('uses every argument when the policy names none', () => {
    expect(argumentsKey({}, { q: 'ada', limit: 3 })).toBe('{"limit":3,"q":"ada"}');
    expect(argumentsKey({}, undefined)).toBe('{}');
  });

  it('uses only the arguments the policy names', () => {
    expect(argumentsKey({ key: ['q'] }, { q: 'ada', verbose: true })).toBe('{"q":"ada"}');
  });
});

describe('expandTags', () => {
  it('fills placeholders from the arguments, one tag per element of an array', () => {
    expect(expandTags(['graph', 'entity:{names}'], { names: ['ada', 'bob'] })).toEqual([
      'graph',
      'entity:ada',
      'entity:bob',
    ]);
  });

  it('gives every combination of two array placeholders', () => {
    expect(expandTags(['{a}-{b}'], { a: ['1', '2'], b: 'x' })).toEqual(['1-x', '2-x']);
  });

  it('leaves out a tag whose argument is absent', () => {
    expect(expandTags(['entity:{name}', 'all'], {})).toEqual(['all']);
    expect(expandTags(['entity:{names}'], { names: [] })).toEqual([]);
  });
});

describe('matchTag', () => {
  it('recovers the placeholder values of a tag made from the template', () => {
    expect(matchTag('entity:{name}', 'entity:ada lovelace')).toEqual({ name: 'ada lovelace' });
    expect(matchTag('graph', 'graph')).toEqual({});
  });

  it('says undefined for a tag of another template', () => {
    expect(matchTag('entity:{name}', 'relation:ada')).toBeUndefined();
    expect(matchTag('graph', 'graphs')).toBeUndefined();
  });
});
