import { TOOL_LATENCY_BUCKETS_MS, type GatewayPresence, type ToolDigest } from '@fabric/contracts';

/** One tool's numbers across the fleet over the last minute. */
export interface ToolFleetStats {
  tool: string;
  /** Calls over the window, every live replica together. */
  calls: number;
  callsPerSecond: number;
  /** Share of the calls that failed, 0..1 (0 without calls). */
  errorRate: number;
  /** Latency percentiles in milliseconds, from the buckets (null without calls). */
  p50Ms: number | null;
  p99Ms: number | null;
  /** Share of the cacheable calls answered from the edge cache (null when none was cacheable). */
  cacheHitRatio: number | null;
}

/** The edge cache across the fleet over the last minute. */
export interface CacheFleetStats {
  hits: number;
  misses: number;
  hitRatio: number | null;
}

/**
 * The `quantile` (0..1) of a latency histogram with the fleet's buckets, interpolated linearly inside its
 * bucket (the first bucket starts at 0; the overflow bucket answers the last bound). Null when it is empty.
 */
export function percentileMs(buckets: readonly number[], quantile: number): number | null {
  let total = 0;
  for (const count of buckets) total += count;
  if (total === 0) return null;
  const rank = Math.max(1, Math.ceil(quantile * total));
  let seen = 0;
  for (let i = 0; i < buckets.length; i++) {
    const count = buckets[i];
    if (seen + count >= rank) {
      if (i >= TOOL_LATENCY_BUCKETS_MS.length) return TOOL_LATENCY_BUCKETS_MS[TOOL_LATENCY_BUCKETS_MS.length - 1];
      const lower = i === 0 ? 0 : TOOL_LATENCY_BUCKETS_MS[i - 1];
      const upper = TOOL_LATENCY_BUCKETS_MS[i];
      return lower + ((upper - lower) * (rank - seen)) / count;
    }
    seen += count;
  }
  return TOOL_LATENCY_BUCKETS_MS[TOOL_LATENCY_BUCKETS_MS.length - 1];
}

/** What of a presence the fleet's numbers are made of. */
export type StatsSource = Pick<GatewayPresence, 'windowMs' | 'tools'>;

/**
 * The fleet's numbers per tool from the digests of every live replica: counts and histograms add up, a rate
 * is each replica's count over the span its digest covers, summed. `known` tools appear even without calls.
 */
export function aggregateTools(sources: Iterable<StatsSource>, known: Iterable<string> = []): ToolFleetStats[] {
  const totals = new Map<string, { digest: ToolDigest; perSecond: number }>();
  const totalOf = (tool: string) => {
    let total = totals.get(tool);
    if (!total) {
      total = {
        digest: { tool, ok: 0, errors: 0, cacheHits: 0, cacheMisses: 0, latency: TOOL_LATENCY_BUCKETS_MS.map(() => 0) },
        perSecond: 0,
      };
      total.digest.latency.push(0);
      totals.set(tool, total);
    }
    return total;
  };
  for (const tool of known) totalOf(tool);
  for (const source of sources) {
    for (const digest of source.tools) {
      const total = totalOf(digest.tool);
      total.digest.ok += digest.ok;
      total.digest.errors += digest.errors;
      total.digest.cacheHits += digest.cacheHits;
      total.digest.cacheMisses += digest.cacheMisses;
      for (let i = 0; i < total.digest.latency.length; i++) total.digest.latency[i] += digest.latency[i] ?? 0;
      if (source.windowMs > 0) total.perSecond += ((digest.ok + digest.errors) * 1000) / source.windowMs;
    }
  }
  return [...totals.values()]
    .map(({ digest, perSecond }) => {
      const calls = digest.ok + digest.errors;
      const cacheable = digest.cacheHits + digest.cacheMisses;
      return {
        tool: digest.tool,
        calls,
        callsPerSecond: perSecond,
        errorRate: calls === 0 ? 0 : digest.errors / calls,
        p50Ms: percentileMs(digest.latency, 0.5),
        p99Ms: percentileMs(digest.latency, 0.99),
        cacheHitRatio: cacheable === 0 ? null : digest.cacheHits / cacheable,
      };
    })
    .sort((a, b) => a.tool.localeCompare(b.tool));
}

/** The edge cache's hits and misses across the fleet. */
export function aggregateCache(sources: Iterable<StatsSource>): CacheFleetStats {
  let hits = 0;
  let misses = 0;
  for (const source of sources)
    for (const digest of source.tools) {
      hits += digest.cacheHits;
      misses += digest.cacheMisses;
    }
  return { hits, misses, hitRatio: hits + misses === 0 ? null : hits / (hits + misses) };
}

/** A replica is dropped after this many missed heartbeats. */
const MISSED_BEATS = 3;

/** A gateway replica as last heard, with when. */
export interface GatewayEntry {
  presence: GatewayPresence;
  lastSeen: number;
}

/** The live gateway replicas, by their presence: one that says it leaves, or stops beating, is dropped. */
export class GatewayRoster {
  private readonly entries = new Map<string, GatewayEntry>();

  /** Takes one presence; a later one of a replica replaces the one before. */
  accept(presence: GatewayPresence, now = Date.now()): void {
    if (presence.leaving) {
      this.entries.delete(presence.replica);
      return;
    }
    const known = this.entries.get(presence.replica);
    if (known && known.presence.sentAt > presence.sentAt) return;
    this.entries.set(presence.replica, { presence, lastSeen: now });
  }

  /** Drops the replicas silent for longer than their missed beats; returns their ids. */
  sweep(now = Date.now()): string[] {
    const dropped: string[] = [];
    for (const [replica, entry] of this.entries) {
      if (now - entry.lastSeen > entry.presence.heartbeatMs * MISSED_BEATS) {
        this.entries.delete(replica);
        dropped.push(replica);
      }
    }
    return dropped;
  }

  /** Every live replica, oldest first. */
  live(): GatewayEntry[] {
    return [...this.entries.values()].sort(
      (a, b) => a.presence.startedAt - b.presence.startedAt || a.presence.replica.localeCompare(b.presence.replica),
    );
  }
}
