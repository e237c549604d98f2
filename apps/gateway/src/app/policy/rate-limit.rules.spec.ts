import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Principal } from '@fabric/contracts';
import { ConfigError } from '@fabric/platform-config';
import { loadPolicyFile, parsePolicy } from './policy-file';
import { RateLimitRules, checksOf, retryAfterSeconds } from './rate-limit.rules';

const rulesOf = (content: unknown) => RateLimitRules.of(parsePolicy(content).rateLimits);

const alice: Principal = { subject: 'alice@example.com', clientId: 'cli-app', scopes: [] };

describe('rate-limit rules', () => {
  it('a principal glob matches the subject or the client id; calls without a principal are anonymous', () => {
    const rules = rulesOf({
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
    const [rule] = rulesOf({
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

  it('refuses invalid rules and duplicate names', () => {
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
    for (const content of invalid) expect(() => parsePolicy(content)).toThrow(ConfigError);
  });

  it('loads the policy file once, and refuses one it cannot read', () => {
    const dir = mkdtempSync(join(tmpdir(), 'rate-limits-'));
    try {
      const file = join(dir, 'policy.json');
      writeFileSync(file, JSON.stringify({ rateLimits: [{ principal: '*', tool: '*', limit: 5, windowMs: 10 }] }));
      expect(loadPolicyFile(file).rateLimits).toHaveLength(1);
      expect(loadPolicyFile(undefined).rateLimits).toHaveLength(0);
      writeFileSync(file, '{ not json');
      expect(() => loadPolicyFile(file)).toThrow(ConfigError);
      expect(() => loadPolicyFile(join(dir, 'missing.json'))).toThrow(/AUTH_POLICY_FILE/);
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
