import type { MetricsRegistry } from '@fabric/platform-observability';

/** The few operations the cache needs of prom-client's metrics; no-ops stand in without a registry. */
interface Count {
  inc(labels: Record<string, string>, value?: number): void;
}
interface Level {
  set(value: number): void;
}
interface Timing {
  observe(value: number): void;
}

const noCount: Count = { inc: () => undefined };
const noLevel: Level = { set: () => undefined };
const noTiming: Timing = { observe: () => undefined };

/** The cache's Prometheus metrics (`fabric_cache_*`), created once per registry. */
export class CacheMetrics {
  private readonly hits: Count;
  private readonly misses: Count;
  private readonly loads: Count;
  private readonly joins: Count;
  private readonly evictions: Count;
  private readonly invalidations: Count;
  private readonly redisErrors: Count;
  private readonly unacked: Count;
  private readonly entries: Level;
  private readonly bytes: Level;
  private readonly invalidationSeconds: Timing;

  constructor(registry?: MetricsRegistry) {
    this.hits = registry?.counter('fabric_cache_hits_total', 'Cache hits by level', ['level', 'name']) ?? noCount;
    this.misses = registry?.counter('fabric_cache_misses_total', 'Lookups that found no entry', ['name']) ?? noCount;
    this.loads = registry?.counter('fabric_cache_loads_total', 'Loader calls', ['name']) ?? noCount;
    this.joins =
      registry?.counter(
        'fabric_cache_singleflight_joins_total',
        'Misses answered by the load of another caller (process) or replica (fleet)',
        ['scope', 'name'],
      ) ?? noCount;
    this.evictions =
      registry?.counter('fabric_cache_evictions_total', 'Local entries removed, by reason', ['reason']) ?? noCount;
    this.invalidations =
      registry?.counter('fabric_cache_invalidations_total', 'Invalidations applied, by origin', ['origin']) ?? noCount;
    this.redisErrors =
      registry?.counter('fabric_cache_redis_errors_total', 'Failed Redis commands', ['operation']) ?? noCount;
    this.unacked =
      registry?.counter(
        'fabric_cache_invalidation_unacked_total',
        'Members that did not ack an invalidation in time',
      ) ?? noCount;
    this.entries = registry?.gauge('fabric_cache_entries', 'Entries in the local level') ?? noLevel;
    this.bytes = registry?.gauge('fabric_cache_bytes', 'Bytes of the entries in the local level') ?? noLevel;
    this.invalidationSeconds =
      registry?.histogram('fabric_cache_invalidation_seconds', 'From invalidate() until every member acked') ??
      noTiming;
  }

  hit(level: 'local' | 'redis', name: string): void {
    this.hits.inc({ level, name });
  }

  miss(name: string): void {
    this.misses.inc({ name });
  }

  load(name: string): void {
    this.loads.inc({ name });
  }

  join(scope: 'process' | 'fleet', name: string): void {
    this.joins.inc({ scope, name });
  }

  evicted(reason: string): void {
    this.evictions.inc({ reason });
  }

  invalidated(origin: 'local' | 'remote'): void {
    this.invalidations.inc({ origin });
  }

  redisError(operation: string): void {
    this.redisErrors.inc({ operation });
  }

  unackedMembers(count: number): void {
    this.unacked.inc({}, count);
  }

  localSize(entries: number, bytes: number): void {
    this.entries.set(entries);
    this.bytes.set(bytes);
  }

  invalidationTook(seconds: number): void {
    this.invalidationSeconds.observe(seconds);
  }
}
