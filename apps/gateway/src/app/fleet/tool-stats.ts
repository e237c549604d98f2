import { Injectable } from '@nestjs/common';
import { TOOL_LATENCY_BUCKETS_MS, type ToolDigest } from '@fabric/contracts';

/** The stats window: `SLOTS` slots of `SLOT_MS`, the oldest one dropped as a new one starts. */
export const SLOT_MS = 5_000;
export const SLOTS = 12;
export const STATS_WINDOW_MS = SLOT_MS * SLOTS;
/** Tools tracked at most (a catalog this large is already unusual); calls of others are not counted. */
const MAX_TOOLS = 4_096;

const OK = 0;
const ERRORS = 1;
const HITS = 2;
const MISSES = 3;
const FIRST_BUCKET = 4;
const BUCKETS = TOOL_LATENCY_BUCKETS_MS.length + 1;
/** Counters of one slot: ok, errors, cache hits, cache misses, then the latency buckets. */
const FIELDS = FIRST_BUCKET + BUCKETS;

/** How a call met the edge cache: answered from it, sent on by it, or not cacheable. */
export type CacheOutcome = boolean | undefined;

/** The counters of one tool: a ring of slots, preallocated, each stamped with the slot number it holds. */
class ToolRecord {
  readonly counts = new Uint32Array(SLOTS * FIELDS);
  readonly stamps = new Float64Array(SLOTS).fill(-1);
}

function bucketOf(ms: number): number {
  for (let i = 0; i < TOOL_LATENCY_BUCKETS_MS.length; i++) if (ms <= TOOL_LATENCY_BUCKETS_MS[i]) return i;
  return TOOL_LATENCY_BUCKETS_MS.length;
}

/**
 * This replica's tool calls over the last minute, per tool: counts by outcome, edge cache hits and misses,
 * and a latency histogram with the fleet's fixed buckets. Recording a call touches a few counters of a
 * preallocated record and allocates nothing (the hot path is benchmarked); `digest()` sums the window.
 */
@Injectable()
export class ToolStats {
  private readonly records = new Map<string, ToolRecord>();
  readonly startedAt = Date.now();

  /** Counts one call of `tool` that took `ms` (failed: an `isError` result or a protocol error). */
  record(tool: string, ms: number, failed: boolean, cache: CacheOutcome, now = Date.now()): void {
    let record = this.records.get(tool);
    if (!record) {
      if (this.records.size >= MAX_TOOLS) return;
      record = new ToolRecord();
      this.records.set(tool, record);
    }
    const slot = Math.floor(now / SLOT_MS);
    const index = slot % SLOTS;
    const base = index * FIELDS;
    const { counts, stamps } = record;
    if (stamps[index] !== slot) {
      counts.fill(0, base, base + FIELDS);
      stamps[index] = slot;
    }
    counts[base + (failed ? ERRORS : OK)]++;
    if (cache === true) counts[base + HITS]++;
    else if (cache === false) counts[base + MISSES]++;
    counts[base + FIRST_BUCKET + bucketOf(ms)]++;
  }

  /** The span the digest covers now: the window's slots up to now, or less while this replica is young. */
  windowMs(now = Date.now()): number {
    return Math.max(0, Math.min(now - this.startedAt, (SLOTS - 1) * SLOT_MS + (now % SLOT_MS)));
  }

  /** Each tool's calls over the window (tools without any are left out). */
  digest(now = Date.now()): ToolDigest[] {
    const current = Math.floor(now / SLOT_MS);
    const digests: ToolDigest[] = [];
    for (const [tool, { counts, stamps }] of this.records) {
      const sum = new Array<number>(FIELDS).fill(0);
      for (let index = 0; index < SLOTS; index++) {
        const stamp = stamps[index];
        if (stamp < 0 || stamp > current || current - stamp >= SLOTS) continue;
        const base = index * FIELDS;
        for (let field = 0; field < FIELDS; field++) sum[field] += counts[base + field];
      }
      if (sum[OK] + sum[ERRORS] === 0) continue;
      digests.push({
        tool,
        ok: sum[OK],
        errors: sum[ERRORS],
        cacheHits: sum[HITS],
        cacheMisses: sum[MISSES],
        latency: sum.slice(FIRST_BUCKET),
      });
    }
    return digests;
  }
}
