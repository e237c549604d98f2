// Small statistics for benchmark reports.

/** The `p`-th percentile (0-100) of sorted numbers, nearest rank. */
export function percentile(sorted, p) {
  if (sorted.length === 0) return NaN;
  const rank = Math.ceil((p / 100) * sorted.length);
  return sorted[Math.min(sorted.length, Math.max(1, rank)) - 1];
}

/** The median of numbers (NaN for none). */
export function median(values) {
  const sorted = values.filter((value) => Number.isFinite(value)).sort((a, b) => a - b);
  if (sorted.length === 0) return NaN;
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[middle] : (sorted[middle - 1] + sorted[middle]) / 2;
}

/** Throughput and latency of one run: `completed` requests in `windowMs`, and their latencies in ms. */
export function summarize(latenciesMs, completed, windowMs) {
  const sorted = Float64Array.from(latenciesMs).sort();
  const mean = sorted.reduce((sum, value) => sum + value, 0) / (sorted.length || NaN);
  return {
    rps: windowMs > 0 ? (completed * 1000) / windowMs : NaN,
    latency: {
      mean,
      p50: percentile(sorted, 50),
      p90: percentile(sorted, 90),
      p99: percentile(sorted, 99),
      max: sorted[sorted.length - 1] ?? NaN,
    },
  };
}
