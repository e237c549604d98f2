import { Module } from '@nestjs/common';
import { CatalogModule } from '../catalog/catalog.module';
import { CatalogService } from '../catalog/catalog.service';
import { ResourceResolver } from '../catalog/resource-resolver';
import { GATEWAY_ENV, authEnabled, type GatewayEnv } from '../gateway.config';
import { AuthorizeStage } from './authorize.stage';
import { CacheStage } from './cache.stage';
import { EdgeCacheLifecycle } from './edge-cache';
import { loadPolicyFile } from './policy-file';
import { PolicyPipeline } from './policy.pipeline';
import { POLICY_STAGES, type PolicyStage } from './policy.stage';
import { POLICY_FILE } from './policy.tokens';
import { ScopeRules } from './scope.rules';

/**
 * The policy pipeline and its stages, in order: authorize (scopes; only when callers authenticate, with
 * `AUTH_ISSUER` or `API_KEYS_FILE`), then cache (read-through at the edge; left out with
 * `CACHE_ENABLED=false`, which ignores declared cache policies). The cache comes after authorization: a
 * cached answer must never reach a caller that may not have it.
 */
@Module({
  imports: [CatalogModule],
  providers: [
    EdgeCacheLifecycle,
    {
      provide: POLICY_FILE,
      useFactory: (env: GatewayEnv) => loadPolicyFile(env.AUTH_POLICY_FILE),
      inject: [GATEWAY_ENV],
    },
    ScopeRules,
    {
      provide: POLICY_STAGES,
      useFactory: (
        env: GatewayEnv,
        rules: ScopeRules,
        edge: EdgeCacheLifecycle,
        catalog: CatalogService,
        resources: ResourceResolver,
      ): PolicyStage[] => [
        ...(authEnabled(env) ? [new AuthorizeStage(rules)] : []),
        ...(edge.cache ? [new CacheStage(edge.cache, catalog, resources)] : []),
      ],
      inject: [GATEWAY_ENV, ScopeRules, EdgeCacheLifecycle, CatalogService, ResourceResolver],
    },
    PolicyPipeline,
  ],
  exports: [PolicyPipeline, ScopeRules, POLICY_FILE],
})
export class PolicyModule {}
