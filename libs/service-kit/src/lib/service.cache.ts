import { Inject, Injectable, Logger, type OnApplicationShutdown } from '@nestjs/common';
import { fabricSubjects } from '@fabric/contracts';
import { Cache, CacheBus, type CacheSpace } from '@fabric/platform-cache';
import { NatsClient } from '@fabric/platform-nats';
import { MetricsRegistry, ReadinessRegistry } from '@fabric/platform-observability';
import { resourcesTagged } from './cache.declarations';
import { HandlerRegistry } from './handler.registry';
import { INSTANCE_ID } from './instance-id';
import { SERVICE_ENV, type ServiceEnv } from './kit.config';
import { ResourceNotifier } from './resource.notifier';

/** How a handler's own inner read is cached. */
export interface InnerCachePolicy {
  ttlMs: number;
  /** Tags `invalidate({ tags })` drops it by; the same tags as the service's declared cache policies. */
  tags?: readonly string[];
  /** Label of the read in the cache metrics. */
  name?: string;
}

/** What a write drops: entries by tag (the gateway's cached results too) or by the key of an inner read. */
export interface Invalidation {
  tags?: readonly string[];
  keys?: readonly string[];
}

/** Inner keys live apart from the gateway's entries of the same space. */
const INNER = 'app:';

/**
 * The service's share of the fabric cache (`ctx.cache`, or injected): cache-aside for its own expensive
 * reads, and invalidation after a write. An invalidation reaches every replica of the service and every
 * gateway (their in-process entries, and Redis), and resolves once each of them has dropped its entries,
 * so a read sent after the write's reply never sees the value from before; clients subscribed to a
 * resource whose tags it names are told the resource changed.
 */
@Injectable()
export class ServiceCache implements OnApplicationShutdown {
  private readonly space?: CacheSpace;
  private readonly cache?: Cache;

  constructor(
    @Inject(SERVICE_ENV) env: ServiceEnv,
    @Inject(HandlerRegistry) private readonly registry: HandlerRegistry,
    @Inject(ResourceNotifier) private readonly notifier: ResourceNotifier,
    @Inject(NatsClient) nats: NatsClient,
    @Inject(INSTANCE_ID) instanceId: string,
    @Inject(MetricsRegistry) metrics: MetricsRegistry,
    @Inject(ReadinessRegistry) readiness: ReadinessRegistry,
  ) {
    if (!env.CACHE_ENABLED) return;
    const service = registry.identity.service;
    this.cache = Cache.fromEnv(env, { metrics, logger: new Logger('Cache') });
    this.cache.connectBus(
      CacheBus.fromEnv(nats, fabricSubjects(env.FABRIC_NAMESPACE), env, { spaces: [service], member: instanceId }),
    );
    this.space = this.cache.space(service);
    readiness.registerDetail('cache', () => this.cache!.state());
  }

  /** The value of `key`: from the cache when it holds one, else `load()`'s, kept for `policy.ttlMs`. */
  getOrSet<T>(key: string, load: () => Promise<T>, policy: InnerCachePolicy): Promise<T> {
    return this.space ? this.space.getOrSet(INNER + key, load, policy) : load();
  }

  /** Drops what a write changed, everywhere, then tells the subscribers of the resources it names. */
  async invalidate({ tags = [], keys = [] }: Invalidation): Promise<void> {
    await this.space?.invalidate({ tags, keys: keys.map((key) => INNER + key) });
    for (const uri of resourcesTagged(this.registry.table.manifest, tags)) this.notifier.updated(uri);
  }

  async onApplicationShutdown(): Promise<void> {
    await this.cache?.close();
  }
}
