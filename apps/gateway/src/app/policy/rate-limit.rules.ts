import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { z } from 'zod';
import { principalKey, type Principal } from '@fabric/contracts';
import { ConfigError } from '@fabric/platform-config';
import type { LimitCheck } from '@fabric/platform-limits';

/** The principal calls without one are counted under (globs such as `*` match it). */
export const ANONYMOUS = 'anonymous';

/** One entry of the policy file's `rateLimits`: at most `limit` calls per `windowMs` per principal and tool. */
export const RateLimitRuleSchema = z.strictObject({
  /** Named in refusals and in the `rule` label of the metric; default: its globs, limit and window. */
  name: z.string().min(1).max(200).optional(),
  /** Glob (`*`, `?`) matched against the principal's subject and its client id (`anonymous` without one). */
  principal: z.string().min(1),
  /** Glob matched against the public tool name. */
  tool: z.string().min(1),
  limit: z.number().int().min(1),
  windowMs: z.number().int().min(1),
});
export type RateLimitRuleInput = z.infer<typeof RateLimitRuleSchema>;

/** The part of the policy file this stage reads (other keys belong to authorization). */
export const RateLimitPolicySchema = z.object({
  rateLimits: z
    .array(RateLimitRuleSchema)
    .default([])
    .superRefine((rules, ctx) => {
      const seen = new Set<string>();
      rules.forEach((rule, index) => {
        const name = nameOf(rule);
        if (seen.has(name))
          ctx.addIssue({ code: 'custom', path: [index, 'name'], message: `duplicate rule "${name}"` });
        seen.add(name);
      });
    }),
});

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

  /** Rules from parsed policy-file content; throws a `ConfigError` when `rateLimits` is invalid. */
  static parse(content: unknown, source = 'the policy file'): RateLimitRules {
    const parsed = RateLimitPolicySchema.safeParse(content ?? {});
    if (!parsed.success) {
      const issues = parsed.error.issues.map((issue) => `${issue.path.join('.') || '(root)'}: ${issue.message}`);
      throw new ConfigError(`Invalid rateLimits in ${source}:\n  ${issues.join('\n  ')}`, issues);
    }
    return new RateLimitRules(parsed.data.rateLimits.map(compile));
  }

  /** The rules of the file at `path` (read once, at start-up); none without a file; a `ConfigError` when unreadable. */
  static load(path: string | undefined): RateLimitRules {
    if (!path) return new RateLimitRules([]);
    let content: unknown;
    try {
      content = JSON.parse(readFileSync(path, 'utf8'));
    } catch (error) {
      const reason = error instanceof Error ? error.message : String(error);
      throw new ConfigError(`AUTH_POLICY_FILE: cannot read the policy file ${path} (${reason})`, [reason]);
    }
    return RateLimitRules.parse(content, path);
  }

  get size(): number {
    return this.rules.length;
  }

  /** The rules a call of `principal` on `tool` falls under. */
  matching(principal: Principal | undefined, tool: string): RateLimitRule[] {
    return this.rules.filter((rule) => rule.matches(principal, tool));
  }
}

function nameOf(rule: RateLimitRuleInput): string {
  return rule.name ?? `${rule.principal} ${rule.tool} ${rule.limit}/${rule.windowMs}ms`;
}

function compile(rule: RateLimitRuleInput): RateLimitRule {
  const principal = globPattern(rule.principal);
  const tool = globPattern(rule.tool);
  return {
    name: nameOf(rule),
    limit: rule.limit,
    windowMs: rule.windowMs,
    matches: (who, name) =>
      tool.test(name) &&
      (who
        ? principal.test(who.subject) || (who.clientId !== undefined && principal.test(who.clientId))
        : principal.test(ANONYMOUS)),
  };
}

/** A glob as an anchored pattern: `*` any run of characters, `?` one character, everything else literal. */
export function globPattern(glob: string): RegExp {
  const source = [...glob]
    .map((char) => (char === '*' ? '.*' : char === '?' ? '.' : char.replace(/[\\^$.|+()[\]{}]/g, '\\$&')))
    .join('');
  return new RegExp(`^${source}$`, 's');
}
