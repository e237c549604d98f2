import { PolicyFileError, globMatcher, parsePolicy, scopesFor } from './policy-file';

describe('globMatcher', () => {
  it('matches * across any characters, slashes included, and ? as one character', () => {
    expect(globMatcher('files_*')('files_read')).toBe(true);
    expect(globMatcher('files_*')('admin_files_read')).toBe(false);
    expect(globMatcher('docs://*')('docs://a/b/c.md')).toBe(true);
    expect(globMatcher('v?_tool')('v2_tool')).toBe(true);
    expect(globMatcher('v?_tool')('v10_tool')).toBe(false);
  });

  it('takes every other character literally', () => {
    expect(globMatcher('a.b')('axb')).toBe(false);
    expect(globMatcher('x+(y)')('x+(y)')).toBe(true);
  });
});

describe('parsePolicy', () => {
  it('keeps the rules in file order: the first matching glob wins', () => {
    const policy = parsePolicy({
      tools: { admin_delete: ['admin'], 'admin_*': ['admin:read'], '*': ['basic'] },
      resources: { 'secret://*': ['secrets'] },
    });
    expect(scopesFor(policy.tools, 'admin_delete')).toEqual(['admin']);
    expect(scopesFor(policy.tools, 'admin_list')).toEqual(['admin:read']);
    expect(scopesFor(policy.tools, 'echo')).toEqual(['basic']);
    expect(scopesFor(policy.resources, 'secret://x/y')).toEqual(['secrets']);
    expect(scopesFor(policy.resources, 'public://x')).toBeUndefined();
    expect(policy.prompts).toEqual([]);
  });

  it('validates the rate limits for the rate-limit stage', () => {
    const rule = { principal: '*', tool: 'search_*', limit: 10, windowMs: 60_000 };
    expect(parsePolicy({ rateLimits: [rule] }).rateLimits).toEqual([rule]);
    expect(() => parsePolicy({ rateLimits: [{ ...rule, limit: 0 }] })).toThrow(PolicyFileError);
  });

  it('refuses unknown sections and scopes that are not scope tokens, naming where', () => {
    expect(() => parsePolicy({ tool: {} })).toThrow(PolicyFileError);
    expect(() => parsePolicy({ tools: { '*': ['has space'] } })).toThrow(/tools\.\*\.0/);
  });
});
