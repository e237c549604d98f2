import { TOOL_LATENCY_BUCKETS_MS, type GatewayPresence, type ToolDigest } from '@fabric/contracts';
import { GatewayRoster, aggregateCache, aggregateTools, percentileMs } from './fleet-stats';

/** A histogram with `count` calls in the bucket whose upper bound is `boundMs` (Infinity: the overflow bucket). */
function histogram(...entries: [boundMs: number, count: number][]): number[] {
  const buckets = new Array<number>(TOOL_LATENCY_BUCKETS_MS.length + 1).fill(0);
  for (const [bound, count] of entries) {
    const index = bound === Infinity ? TOOL_LATENCY_BUCKETS_MS.length : TOOL_LATENCY_BUCKETS_MS.indexOf(bound as 1);
    buckets[index] += count;
  }
  return buckets;
}

function digest(tool: string, fields: Partial<ToolDigest> = {}): ToolDigest {
  return { tool, ok: 0, errors: 0, cacheHits: 0, cacheMisses: 0, latency: histogram(), ...fields };
}

function presence(replica: string, fields: Partial<GatewayPresence> = {}): GatewayPresence {
  return {
    replica,
    version: '0.1.0',
    host: 'h',
    pid: 1,
    startedAt: 0,
    heartbeatMs: 2_000,
    windowMs: 60_000,
    tools: [],
    sentAt: 1,
    ...fields,
  };
}

describe('percentileMs', () => {
  it('is null for an empty histogram', () => {
    expect(percentileMs(histogram(), 0.5)).toBeNull();
  });

  it('interpolates inside the bucket that holds the rank', () => {
    // 100 calls between 10 and 20 ms: the median is half-way through that bucket, p99 near its top.
    const buckets = histogram([20, 100]);
    expect(percentileMs(buckets, 0.5)).toBeCloseTo(15);
    expect(percentileMs(buckets, 0.99)).toBeCloseTo(19.9);
  });

  it('finds the tail in a later bucket than the bulk', () => {
    const buckets = histogram([5, 98], [500, 2]);
    expect(percentileMs(buckets, 0.5)).toBeLessThanOrEqual(5);
    const p99 = percentileMs(buckets, 0.99) as number;
    expect(p99).toBeGreaterThan(200);
    expect(p99).toBeLessThanOrEqual(500);
  });

  it('answers the last bound for calls slower than every bound', () => {
    expect(percentileMs(histogram([Infinity, 3]), 0.99)).toBe(
      TOOL_LATENCY_BUCKETS_MS[TOOL_LATENCY_BUCKETS_MS.length - 1],
    );
  });
});

describe('aggregateTools', () => {
  it('adds up the counts and histograms of every replica, and each replica’s rate over its own window', () => {
    const [stats] = aggregateTools([
      presence('a', {
        windowMs: 60_000,
        tools: [digest('kb_search', { ok: 50, errors: 10, latency: histogram([10, 60]) })],
      }),
      // A young replica: its 30 calls took 10 s, not a minute.
      presence('b', { windowMs: 10_000, tools: [digest('kb_search', { ok: 30, latency: histogram([1_000, 30]) })] }),
    ]);
    expect(stats.tool).toBe('kb_search');
    expect(stats.calls).toBe(90);
    expect(stats.callsPerSecond).toBeCloseTo(60 / 60 + 30 / 10);
    expect(stats.errorRate).toBeCloseTo(10 / 90);
    expect(stats.p50Ms).toBeLessThanOrEqual(10);
    expect(stats.p99Ms).toBeGreaterThan(500);
    expect(stats.cacheHitRatio).toBeNull();
  });

  it('lists the known tools without calls with zero numbers, sorted by name', () => {
    const tools = aggregateTools(
      [presence('a', { tools: [digest('b_tool', { ok: 1, latency: histogram([1, 1]) })] })],
      ['c_tool', 'a_tool', 'b_tool'],
    );
    expect(tools.map((tool) => [tool.tool, tool.calls])).toEqual([
      ['a_tool', 0],
      ['b_tool', 1],
      ['c_tool', 0],
    ]);
    expect(tools[0]).toMatchObject({ callsPerSecond: 0, errorRate: 0, p50Ms: null, p99Ms: null });
  });

  it('gives each tool and the fleet the edge cache’s hit ratio', () => {
    const sources = [
      presence('a', { tools: [digest('t', { ok: 4, cacheHits: 3, cacheMisses: 1 })] }),
      presence('b', { tools: [digest('t', { ok: 4, cacheHits: 1, cacheMisses: 3 }), digest('u', { ok: 2 })] }),
    ];
    expect(aggregateTools(sources).find((tool) => tool.tool === 't')?.cacheHitRatio).toBeCloseTo(0.5);
    expect(aggregateCache(sources)).toEqual({ hits: 4, misses: 4, hitRatio: 0.5 });
    expect(aggregateCache([]).hitRatio).toBeNull();
  });
});

describe('GatewayRoster', () => {
  it('drops a replica that missed three beats, and keeps one that beats', () => {
    const roster = new GatewayRoster();
    roster.accept(presence('quiet', { heartbeatMs: 1_000 }), 0);
    roster.accept(presence('beating', { heartbeatMs: 1_000 }), 0);
    roster.accept(presence('beating', { heartbeatMs: 1_000, sentAt: 2 }), 2_500);
    expect(roster.sweep(3_000)).toEqual([]);
    expect(roster.sweep(3_001)).toEqual(['quiet']);
    expect(roster.live().map((entry) => entry.presence.replica)).toEqual(['beating']);
  });

  it('drops a replica that says it leaves at once', () => {
    const roster = new GatewayRoster();
    roster.accept(presence('a'), 0);
    roster.accept(presence('a', { leaving: true, sentAt: 2 }), 10);
    expect(roster.live()).toEqual([]);
  });

  it('keeps the latest presence of a replica when an older one arrives late', () => {
    const roster = new GatewayRoster();
    roster.accept(presence('a', { sentAt: 5, windowMs: 5 }), 0);
    roster.accept(presence('a', { sentAt: 4, windowMs: 4 }), 1);
    expect(roster.live()[0].presence.windowMs).toBe(5);
  });

  it('lists the replicas oldest first', () => {
    const roster = new GatewayRoster();
    roster.accept(presence('young', { startedAt: 20 }), 0);
    roster.accept(presence('old', { startedAt: 10 }), 0);
    expect(roster.live().map((entry) => entry.presence.replica)).toEqual(['old', 'young']);
  });
});
