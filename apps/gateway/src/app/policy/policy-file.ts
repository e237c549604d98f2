import { readFileSync } from 'node:fs';
import { z } from 'zod';
import { ScopesSchema } from '@fabric/contracts';
import { ConfigError } from '@fabric/platform-config';

/** Raised when `AUTH_POLICY_FILE` cannot be read or does not match its schema (explained at start-up). */
export class PolicyFileError extends ConfigError {
  constructor(message: string, issues: string[] = [message]) {
    super(message, issues);
    this.name = 'PolicyFileError';
  }
}

/** Globs to the scopes they require, in file order (the first matching glob wins). */
const ScopeRulesSchema = z.record(z.string().min(1), ScopesSchema).default({});

/** One fleet-wide rate limit: at most `limit` calls per `windowMs`, per principal and tool. */
export const RateLimitRuleSchema = z.strictObject({
  /** Named in refusals and in the `rule` label of the metric; default: its globs, limit and window. */
  name: z.string().min(1).max(200).optional(),
  /** Glob matched against the principal's subject and its client id (`anonymous` without one). */
  principal: z.string().min(1),
  /** Glob matched against the public tool name. */
  tool: z.string().min(1),
  limit: z.number().int().min(1),
  windowMs: z.number().int().min(1),
});
export type RateLimitRuleInput = z.infer<typeof RateLimitRuleSchema>;

/** The name a rule is known by: its own, or its globs, limit and window. */
export function rateLimitName(rule: RateLimitRuleInput): string {
  return rule.name ?? `${rule.principal} ${rule.tool} ${rule.limit}/${rule.windowMs}ms`;
}

const RateLimitsSchema = z
  .array(RateLimitRuleSchema)
  .default([])
  .superRefine((rules, ctx) => {
    const seen = new Set<string>();
    rules.forEach((rule, index) => {
      const name = rateLimitName(rule);
      if (seen.has(name)) ctx.addIssue({ code: 'custom', path: [index, 'name'], message: `duplicate rule "${name}"` });
      seen.add(name);
    });
  });

/** The whole `AUTH_POLICY_FILE`: scopes per tool, resource (by URI) and prompt, and rate limits. */
export const PolicyFileSchema = z.strictObject({
  tools: ScopeRulesSchema,
  resources: ScopeRulesSchema,
  prompts: ScopeRulesSchema,
  rateLimits: RateLimitsSchema,
});

/** One glob and the scopes it requires. */
export interface ScopeRule {
  glob: string;
  matches: (name: string) => boolean;
  scopes: string[];
}

/** What the policy file says, parsed once: scope rules ready to match, and the rate limits as written. */
export interface PolicyFile {
  tools: ScopeRule[];
  resources: ScopeRule[];
  prompts: ScopeRule[];
  rateLimits: RateLimitRuleInput[];
}

export const EMPTY_POLICY: PolicyFile = { tools: [], resources: [], prompts: [], rateLimits: [] };

/**
 * A glob as a predicate: `*` is any run of characters (`/` included, so `docs://*` covers every document),
 * `?` one character; everything else is literal.
 */
export function globMatcher(glob: string): (name: string) => boolean {
  const pattern = glob
    .replace(/[.+^${}()|[\]\\]/g, '\\$&')
    .replace(/\*+/g, '.*')
    .replace(/\?/g, '.');
  const regex = new RegExp(`^${pattern}$`, 's');
  return (name) => regex.test(name);
}

/** The scopes of the first rule whose glob matches `name`, or undefined when none does. */
export function scopesFor(rules: readonly ScopeRule[], name: string): string[] | undefined {
  for (const rule of rules) if (rule.matches(name)) return rule.scopes;
  return undefined;
}

/** Parses the content of a policy file (JSON objects keep their key order, which is the rules' order). */
export function parsePolicy(json: unknown, source = 'the policy'): PolicyFile {
  const parsed = PolicyFileSchema.safeParse(json);
  if (!parsed.success) {
    const issues = parsed.error.issues.map((issue) => `${issue.path.join('.') || '(root)'}: ${issue.message}`);
    throw new PolicyFileError(`${source} is invalid:\n  ${issues.join('\n  ')}`, issues);
  }
  const rules = (record: Record<string, string[]>): ScopeRule[] =>
    Object.entries(record).map(([glob, scopes]) => ({ glob, matches: globMatcher(glob), scopes }));
  const { tools, resources, prompts, rateLimits } = parsed.data;
  return { tools: rules(tools), resources: rules(resources), prompts: rules(prompts), rateLimits };
}

/** Reads `AUTH_POLICY_FILE` (no file: the empty policy). */
export function loadPolicyFile(path: string | undefined): PolicyFile {
  if (!path) return EMPTY_POLICY;
  let json: unknown;
  try {
    json = JSON.parse(readFileSync(path, 'utf8'));
  } catch (error) {
    const reason = error instanceof Error ? error.message : String(error);
    throw new PolicyFileError(`AUTH_POLICY_FILE ${path} cannot be read as JSON (${reason})`);
  }
  return parsePolicy(json, `AUTH_POLICY_FILE ${path}`);
}
