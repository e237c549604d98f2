import { Module } from '@nestjs/common';
import { CatalogModule } from '../catalog/catalog.module';
import { CatalogService } from '../catalog/catalog.service';
import { ResourceResolver } from '../catalog/resource-resolver';
import { CacheStage } from './cache.stage';
import { EdgeCacheLifecycle } from './edge-cache';
import { PolicyPipeline } from './policy.pipeline';
import { POLICY_STAGES, type PolicyStage } from './policy.stage';

/**
 * The policy pipeline and its stages, in order: cache (read-through at the edge; left out with
 * `CACHE_ENABLED=false`, which ignores declared cache policies).
 */
@Module({
  imports: [CatalogModule],
  providers: [
    EdgeCacheLifecycle,
    {
      provide: POLICY_STAGES,
      useFactory: (edge: EdgeCacheLifecycle, catalog: CatalogService, resources: ResourceResolver): PolicyStage[] =>
        edge.cache ? [new CacheStage(edge.cache, catalog, resources)] : [],
      inject: [EdgeCacheLifecycle, CatalogService, ResourceResolver],
    },
    PolicyPipeline,
  ],
  exports: [PolicyPipeline],
})
export class PolicyModule {}
