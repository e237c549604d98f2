import { Inject, Injectable, Logger, type OnApplicationShutdown } from '@nestjs/common';
import { MemoryRateLimiter, RedisRateLimiter, type RateLimiter } from '@fabric/platform-limits';
import { ConfigError } from '@fabric/platform-config';
import { MetricsRegistry, ReadinessRegistry } from '@fabric/platform-observability';
import { GATEWAY_ENV, type GatewayEnv } from '../gateway.config';
import type { PolicyFile } from './policy-file';
import { POLICY_FILE } from './policy.tokens';
import { RateLimitRules } from './rate-limit.rules';

/**
 * The gateway's limiter and rules: in Redis (`REDIS_URL`, under `<FABRIC_NAMESPACE>:limits:`) so that every
 * replica counts in the same windows, else in this process, which only the session bound may use: rate
 * limits without Redis would silently multiply by the replica count, so the gateway refuses to start.
 */
@Injectable()
export class Limits implements OnApplicationShutdown {
  readonly limiter: RateLimiter;
  readonly rules: RateLimitRules;
  private readonly limited;

  constructor(
    @Inject(GATEWAY_ENV) env: GatewayEnv,
    @Inject(MetricsRegistry) metrics: MetricsRegistry,
    @Inject(ReadinessRegistry) readiness: ReadinessRegistry,
    @Inject(POLICY_FILE) policy: PolicyFile,
  ) {
    this.rules = RateLimitRules.of(policy.rateLimits);
    if (this.rules.size > 0 && !env.REDIS_URL) {
      const issue = `${env.AUTH_POLICY_FILE} declares rateLimits, which are enforced fleet-wide in Redis: set REDIS_URL`;
      throw new ConfigError(issue, [issue]);
    }
    this.limited = metrics.counter(
      'fabric_gateway_rate_limited_total',
      'Calls and initializes refused by a rate limit (rule), the session bound, or an unreachable Redis (unavailable)',
      ['rule'],
    );
    const errors = metrics.counter(
      'fabric_gateway_rate_limit_errors_total',
      'Rate limiter commands that failed (Redis unreachable or too slow)',
    );
    this.limiter = env.REDIS_URL
      ? new RedisRateLimiter({
          url: env.REDIS_URL,
          prefix: `${env.FABRIC_NAMESPACE}:limits`,
          failMode: env.RATE_LIMIT_FAIL,
          logger: new Logger('RateLimits'),
          onError: () => errors.inc(),
        })
      : new MemoryRateLimiter();
    readiness.registerDetail('limits', () => ({ store: this.limiter.state(), rules: this.rules.size }));
  }

  /** Counts a refusal by `rule`. */
  refused(rule: string): void {
    this.limited.inc({ rule });
  }

  async onApplicationShutdown(): Promise<void> {
    await this.limiter.close();
  }
}
