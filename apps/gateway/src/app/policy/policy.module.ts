import { Module } from '@nestjs/common';
import { CatalogModule } from '../catalog/catalog.module';
import { CatalogService } from '../catalog/catalog.service';
import { ResourceResolver } from '../catalog/resource-resolver';
import { GATEWAY_ENV, authEnabled, type GatewayEnv } from '../gateway.config';
import { CallEventBus } from '../routing/call-events';
import { RoutingModule } from '../routing/routing.module';
import { AuditPublisher } from './audit.publisher';
import { AuditStage } from './audit.stage';
import { AuthorizeStage } from './authorize.stage';
import { CacheStage } from './cache.stage';
import { EdgeCacheLifecycle } from './edge-cache';
import { Limits } from './limits';
import { loadPolicyFile } from './policy-file';
import { PolicyPipeline } from './policy.pipeline';
import { POLICY_STAGES, type PolicyStage } from './policy.stage';
import { POLICY_FILE } from './policy.tokens';
import { RateLimitStage } from './rate-limit.stage';
import { ScopeRules } from './scope.rules';
import { SessionQuota } from './session-quota';

/**
 * The policy pipeline and its stages, in order: audit (first, so that it records refusals and cache hits too;
 * left out with `AUDIT_ENABLED=false`), authorize (scopes; only when callers authenticate, with
 * `AUTH_ISSUER` or `API_KEYS_FILE`), rate limit (when the policy file declares `rateLimits`), then cache
 * (read-through at the edge; left out with `CACHE_ENABLED=false`, which ignores declared cache policies).
 * The cache comes last: a cached answer must never reach a caller that may not have it, nor skip a limit.
 * Also the session bound (`MAX_SESSIONS_PER_PRINCIPAL`), which the session era applies.
 */
@Module({
  imports: [CatalogModule, RoutingModule],
  providers: [
    EdgeCacheLifecycle,
    AuditPublisher,
    {
      provide: POLICY_FILE,
      useFactory: (env: GatewayEnv) => loadPolicyFile(env.AUTH_POLICY_FILE),
      inject: [GATEWAY_ENV],
    },
    ScopeRules,
    Limits,
    SessionQuota,
    {
      provide: POLICY_STAGES,
      useFactory: (
        env: GatewayEnv,
        rules: ScopeRules,
        limits: Limits,
        edge: EdgeCacheLifecycle,
        catalog: CatalogService,
        resources: ResourceResolver,
        audit: AuditPublisher,
        events: CallEventBus,
      ): PolicyStage[] => [
        ...(env.AUDIT_ENABLED
          ? [
              new AuditStage(audit, catalog, resources, {
                gateway: events.replica,
                withArguments: env.AUDIT_ARGUMENTS,
              }),
            ]
          : []),
        ...(authEnabled(env) ? [new AuthorizeStage(rules)] : []),
        ...(limits.rules.size > 0
          ? [new RateLimitStage(limits.rules, limits.limiter, (rule) => limits.refused(rule))]
          : []),
        ...(edge.cache ? [new CacheStage(edge.cache, catalog, resources)] : []),
      ],
      inject: [
        GATEWAY_ENV,
        ScopeRules,
        Limits,
        EdgeCacheLifecycle,
        CatalogService,
        ResourceResolver,
        AuditPublisher,
        CallEventBus,
      ],
    },
    PolicyPipeline,
  ],
  exports: [PolicyPipeline, ScopeRules, POLICY_FILE, SessionQuota],
})
export class PolicyModule {}
