import { createHash } from 'node:crypto';
import { principalKey, type Principal } from '@fabric/contracts';
import type { LimitCheck } from '@fabric/platform-limits';
import { globMatcher, rateLimitName, type RateLimitRuleInput } from './policy-file';

/** The principal calls without one are counted under (globs such as `*` match it). */
export const ANONYMOUS = 'anonymous';

/** A rule ready to match. */
export interface RateLimitRule {
  readonly name: string;
  readonly limit: number;
  readonly windowMs: number;
  matches(principal: Principal | undefined, tool: string): boolean;
}

/** Who is counted: the principal across issuers, or `anonymous`. */
export function counterOf(principal: Principal | undefined): string {
  return principal ? principalKey(principal) : ANONYMOUS;
}

/** Whole seconds to wait, rounded up: retrying after them never meets the same full window. */
export function retryAfterSeconds(ms: number): number {
  return Math.max(1, Math.ceil(ms / 1000));
}

/** The windows a call of `principal` on `tool` is counted in, one per matching rule. */
export function checksOf(
  rules: readonly RateLimitRule[],
  principal: Principal | undefined,
  tool: string,
): LimitCheck[] {
  const who = counterOf(principal);
  return rules.map((rule) => ({
    // Digested: bounded keys whatever the names, and no principal in clear in Redis.
    key: createHash('sha256').update(`${rule.name}\n${who}\n${tool}`).digest('base64url').slice(0, 32),
    limit: rule.limit,
    windowMs: rule.windowMs,
  }));
}

/** The rate-limit rules of the policy file, in file order (a refusal names the first full window). */
export class RateLimitRules {
  private constructor(readonly rules: readonly RateLimitRule[]) {}

  /** The rules, ready to match, of the policy file's validated `rateLimits`. */
  static of(rules: readonly RateLimitRuleInput[]): RateLimitRules {
    return new RateLimitRules(rules.map(compile));
  }

  get size(): number {
    return this.rules.length;
  }

  /** The rules a call of `principal` on `tool` falls under. */
  matching(principal: Principal | undefined, tool: string): RateLimitRule[] {
    return this.rules.filter((rule) => rule.matches(principal, tool));
  }
}

function compile(rule: RateLimitRuleInput): RateLimitRule {
  const principal = globMatcher(rule.principal);
  const tool = globMatcher(rule.tool);
  return {
    name: rateLimitName(rule),
    limit: rule.limit,
    windowMs: rule.windowMs,
    matches: (who, name) =>
      tool(name) &&
      (who ? principal(who.subject) || (who.clientId !== undefined && principal(who.clientId)) : principal(ANONYMOUS)),
  };
}
