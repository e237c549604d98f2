import { Module } from '@nestjs/common';
import { CatalogModule } from '../catalog/catalog.module';
import { CatalogService } from '../catalog/catalog.service';
import { ResourceResolver } from '../catalog/resource-resolver';
import { CacheStage } from './cache.stage';
import { EdgeCacheLifecycle } from './edge-cache';
import { Limits } from './limits';
import { PolicyPipeline } from './policy.pipeline';
import { POLICY_STAGES, type PolicyStage } from './policy.stage';
import { RateLimitStage } from './rate-limit.stage';
import { SessionQuota } from './session-quota';

/**
 * The policy pipeline and its stages, in order: rate limit (when the policy file declares `rateLimits`),
 * cache (read-through at the edge; left out with `CACHE_ENABLED=false`, which ignores declared cache
 * policies). Also the session bound (`MAX_SESSIONS_PER_PRINCIPAL`), which the session era applies.
 */
@Module({
  imports: [CatalogModule],
  providers: [
    EdgeCacheLifecycle,
    Limits,
    SessionQuota,
    {
      provide: POLICY_STAGES,
      useFactory: (
        limits: Limits,
        edge: EdgeCacheLifecycle,
        catalog: CatalogService,
        resources: ResourceResolver,
      ): PolicyStage[] => [
        ...(limits.rules.size > 0
          ? [new RateLimitStage(limits.rules, limits.limiter, (rule) => limits.refused(rule))]
          : []),
        ...(edge.cache ? [new CacheStage(edge.cache, catalog, resources)] : []),
      ],
      inject: [Limits, EdgeCacheLifecycle, CatalogService, ResourceResolver],
    },
    PolicyPipeline,
  ],
  exports: [PolicyPipeline, SessionQuota],
})
export class PolicyModule {}
