import type { RateLimiter } from '@fabric/platform-limits';
import type { OperationRequest } from '../operations/operation';
import { toolError } from '../operations/tool-result';
import type { PolicyStage } from './policy.stage';
import { ANONYMOUS, checksOf, retryAfterSeconds, type RateLimitRules } from './rate-limit.rules';

/**
 * Rate limits on `tools/call`: the call is counted in the window of every rule it falls under (principal ×
 * tool), fleet-wide and atomically, or refused (counted in none) with an `isError` result that says which
 * limit and when to retry; a refused call reaches no service. Other operations pass straight through.
 */
export class RateLimitStage implements PolicyStage {
  readonly name = 'rate-limit';

  constructor(
    private readonly rules: RateLimitRules,
    private readonly limiter: RateLimiter,
    /** Counts a refusal by the named rule (a metric). */
    private readonly onLimited: (rule: string) => void = () => undefined,
  ) {}

  async handle(request: OperationRequest, next: () => Promise<unknown>): Promise<unknown> {
    const { operation, context } = request;
    if (operation.kind !== 'tools/call') return next();
    const rules = this.rules.matching(context.principal, operation.name);
    if (rules.length === 0) return next();
    const decision = await this.limiter.consume(checksOf(rules, context.principal, operation.name));
    if (decision.outcome === 'allowed') return next();
    request.served.refused = 'RATE_LIMITED';
    if (decision.outcome === 'unavailable') {
      this.onLimited('unavailable');
      return toolError(
        `Rate limits cannot be checked right now; retry in ${retryAfterSeconds(decision.retryAfterMs)} s`,
      );
    }
    const rule = rules[decision.check];
    this.onLimited(rule.name);
    const who = context.principal?.subject ?? ANONYMOUS;
    return toolError(
      `Rate limit "${rule.name}" exceeded: ${rule.limit} calls per ${rule.windowMs} ms for ${who} on ` +
        `${operation.name}; retry in ${retryAfterSeconds(decision.retryAfterMs)} s`,
    );
  }
}
