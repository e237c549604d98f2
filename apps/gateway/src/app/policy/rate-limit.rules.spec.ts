import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Principal } from '@fabric/contracts';
import { ConfigError } from '@fabric/platform-config';
import { RateLimitRules, checksOf, globPattern, retryAfterSeconds } from './rate-limit.rules';

const alice: Principal = { subject: 'alice@example.com', clientId: 'cli-app', scopes: [] };

describe('rate-limit rules', () => {
  it('globs match whole names: * any run, ? one character, everything else literally', () => {
    expect(globPattern('*').test('')).toBe(true);
    expect(globPattern('knowledge_*').test('knowledge_search_nodes')).toBe(true);
    expect(globPattern('knowledge_*').test('testbed_knowledge_x')).toBe(false);
    expect(globPattern('user-?').test('user-7')).toBe(true);
    expect(globPattern('user-?').test('user-77')).toBe(false);
    expect(globPattern('a.b+(c)').test('a.b+(c)')).toBe(true);
    expect(globPattern('a.b').test('axb')).toBe(false);
    expect(globPattern('*@example.com').test('eve@example.com\n')).toBe(false);
  });

  it('a principal glob matches the subject or the client id; calls without a principal are anonymous', () => {
    const rules = RateLimitRules.parse({
      rateLimits: [
        { name: 'by-subject', principal: '*@example.com', tool: '*', limit: 1, windowMs: 1000 },
        { name: 'by-client', principal: 'cli-*', tool: 'testbed_*', limit: 1, windowMs: 1000 },
        { name: 'anonymous', principal: 'anonymous', tool: '*', limit: 1, windowMs: 1000 },
        { name: 'everyone', principal: '*', tool: 'testbed_echo', limit: 1, windowMs: 1000 },
      ],
    });
    const names = (principal: Principal | undefined, tool: string) =>
      rules.matching(principal, tool).map((rule) => rule.name);
    expect(names(alice, 'testbed_echo')).toEqual(['by-subject', 'by-client', 'everyone']);
    expect(names(alice, 'knowledge_search')).toEqual(['by-subject']);
    expect(names({ subject: 'bob', scopes: [] }, 'testbed_stamp')).toEqual([]);
    expect(names(undefined, 'testbed_echo')).toEqual(['anonymous', 'everyone']);
  });

  it('counts each principal (across issuers) and tool in its own window of each rule', () => {
    const [rule] = RateLimitRules.parse({
      rateLimits: [{ principal: '*', tool: '*', limit: 20, windowMs: 60_000 }],
    }).rules;
    expect(rule.name).toBe('* * 20/60000ms');
    const key = (principal: Principal | undefined, tool: string) => checksOf([rule], principal, tool)[0].key;
    expect(checksOf([rule], alice, 'a')[0]).toMatchObject({ limit: 20, windowMs: 60_000 });
    expect(key(alice, 'a')).toBe(key({ ...alice, clientId: 'other' }, 'a'));
    expect(key(alice, 'a')).not.toBe(key(alice, 'b'));
    expect(key(alice, 'a')).not.toBe(key({ ...alice, issuer: 'https://other' }, 'a'));
    expect(key(alice, 'a')).not.toBe(key(undefined, 'a'));
    expect(key(alice, 'a')).toMatch(/^[\w-]{32}$/);
  });

  it('refuses invalid rules and duplicate names, and ignores the keys of other stages', () => {
    expect(RateLimitRules.parse({ authorization: { anything: true } }).size).toBe(0);
    const invalid = [
      { rateLimits: [{ principal: '*', tool: '*', limit: 0, windowMs: 1000 }] },
      { rateLimits: [{ principal: '*', tool: '*', limit: 1 }] },
      { rateLimits: [{ principal: '*', tool: '*', limit: 1, windowMs: 1000, burst: 3 }] },
      {
        rateLimits: [
          { name: 'x', principal: '*', tool: '*', limit: 1, windowMs: 1000 },
          { name: 'x', principal: 'a', tool: '*', limit: 1, windowMs: 1000 },
        ],
      },
    ];
    for (const content of invalid) expect(() => RateLimitRules.parse(content)).toThrow(ConfigError);
  });

  it('loads the policy file once, and refuses one it cannot read', () => {
    const dir = mkdtempSync(join(tmpdir(), 'rate-limits-'));
    try {
      const file = join(dir, 'policy.json');
      writeFileSync(file, JSON.stringify({ rateLimits: [{ principal: '*', tool: '*', limit: 5, windowMs: 10 }] }));
      expect(RateLimitRules.load(file).size).toBe(1);
      expect(RateLimitRules.load(undefined).size).toBe(0);
      writeFileSync(file, '{ not json');
      expect(() => RateLimitRules.load(file)).toThrow(ConfigError);
      expect(() => RateLimitRules.load(join(dir, 'missing.json'))).toThrow(/AUTH_POLICY_FILE/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('rounds the time to wait up to whole seconds, at least one', () => {
    expect(retryAfterSeconds(0)).toBe(1);
    expect(retryAfterSeconds(1_001)).toBe(2);
    expect(retryAfterSeconds(60_000)).toBe(60);
  });
});
