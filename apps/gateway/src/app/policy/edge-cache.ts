import { Inject, Injectable, Logger, type OnApplicationShutdown } from '@nestjs/common';
import { ALL_CACHE_SPACES, fabricSubjects } from '@fabric/contracts';
import { Cache, CacheBus } from '@fabric/platform-cache';
import { NatsClient } from '@fabric/platform-nats';
import { MetricsRegistry, ReadinessRegistry } from '@fabric/platform-observability';
import { GATEWAY_ENV, type GatewayEnv } from '../gateway.config';

/**
 * The gateway's two-level cache (none with `CACHE_ENABLED=false`): a member of every space on the bus, so
 * that an invalidation by any service waits for this replica to drop its entries. Closed when the app stops.
 */
@Injectable()
export class EdgeCacheLifecycle implements OnApplicationShutdown {
  readonly cache?: Cache;

  constructor(
    @Inject(GATEWAY_ENV) env: GatewayEnv,
    @Inject(NatsClient) nats: NatsClient,
    @Inject(MetricsRegistry) metrics: MetricsRegistry,
    @Inject(ReadinessRegistry) readiness: ReadinessRegistry,
  ) {
    if (!env.CACHE_ENABLED) return;
    const cache = Cache.fromEnv(env, { metrics, logger: new Logger('Cache') });
    cache.connectBus(CacheBus.fromEnv(nats, fabricSubjects(env.FABRIC_NAMESPACE), env, { spaces: [ALL_CACHE_SPACES] }));
    readiness.registerDetail('cache', () => cache.state());
    this.cache = cache;
  }

  async onApplicationShutdown(): Promise<void> {
    await this.cache?.close();
  }
}
