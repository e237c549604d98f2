import { TOOL_LATENCY_BUCKETS_MS } from '@fabric/contracts';
import { SLOT_MS, STATS_WINDOW_MS, ToolStats } from './tool-stats';

const START = 1_000 * SLOT_MS;

describe('ToolStats', () => {
  it('counts calls by outcome, cache use and latency bucket', () => {
    const stats = new ToolStats();
    stats.record('kb_search', 0.4, false, undefined, START);
    stats.record('kb_search', 3, false, true, START + 1);
    stats.record('kb_search', 45_000, true, false, START + 2);
    stats.record('kb_search', 120_000, false, undefined, START + 3);
    const [digest] = stats.digest(START + 10);
    expect(digest).toMatchObject({ tool: 'kb_search', ok: 3, errors: 1, cacheHits: 1, cacheMisses: 1 });
    const latency = new Array(TOOL_LATENCY_BUCKETS_MS.length + 1).fill(0);
    latency[0] = 1; // ≤ 1 ms
    latency[2] = 1; // ≤ 5 ms
    latency[TOOL_LATENCY_BUCKETS_MS.indexOf(60_000)] = 1;
    latency[TOOL_LATENCY_BUCKETS_MS.length] = 1; // slower than the last bound
    expect(digest.latency).toEqual(latency);
  });

  it('forgets calls older than the window, slot by slot', () => {
    const stats = new ToolStats();
    stats.record('a', 1, false, undefined, START);
    stats.record('a', 1, false, undefined, START + 30_000);
    expect(stats.digest(START + 30_000)[0].ok).toBe(2);
    // The first call's slot is out of the window once a whole window has passed since it began.
    expect(stats.digest(START + STATS_WINDOW_MS)[0].ok).toBe(1);
    expect(stats.digest(START + 30_000 + STATS_WINDOW_MS)).toEqual([]);
  });

  it('reuses a slot for a new period, without counting what it held before', () => {
    const stats = new ToolStats();
    stats.record('a', 1, false, undefined, START);
    stats.record('a', 1, true, undefined, START + STATS_WINDOW_MS);
    expect(stats.digest(START + STATS_WINDOW_MS)).toEqual([expect.objectContaining({ ok: 0, errors: 1 })]);
  });

  it('leaves tools without calls in the window out of the digest', () => {
    const stats = new ToolStats();
    stats.record('old', 1, false, undefined, START);
    stats.record('new', 1, false, undefined, START + 2 * STATS_WINDOW_MS);
    expect(stats.digest(START + 2 * STATS_WINDOW_MS).map((digest) => digest.tool)).toEqual(['new']);
  });

  it('covers the window, or less while the replica is young', () => {
    const stats = new ToolStats();
    expect(stats.windowMs(stats.startedAt + 1_500)).toBe(1_500);
    const later = stats.startedAt + 10 * STATS_WINDOW_MS;
    const span = stats.windowMs(later);
    expect(span).toBeGreaterThan(STATS_WINDOW_MS - SLOT_MS);
    expect(span).toBeLessThanOrEqual(STATS_WINDOW_MS);
  });
});
