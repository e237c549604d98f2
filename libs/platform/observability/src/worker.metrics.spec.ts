import { Counter, Gauge, Histogram, Registry } from 'prom-client';
import { combineWorkerMetrics, type MetricJson } from './worker.metrics';

/** One worker's registry after it served `calls` calls and holds `inFlight` now. */
async function workerMetrics(calls: number, inFlight: number, seconds: number[]): Promise<MetricJson[]> {
  const registry = new Registry();
  const counter = new Counter({ name: 'calls_total', help: 'Calls', labelNames: ['name'], registers: [registry] });
  const gauge = new Gauge({ name: 'in_flight', help: 'In flight', registers: [registry] });
  const histogram = new Histogram({ name: 'call_seconds', help: 'Latency', buckets: [0.1, 1], registers: [registry] });
  counter.inc({ name: 'echo' }, calls);
  gauge.set(inFlight);
  for (const value of seconds) histogram.observe(value);
  return (await registry.getMetricsAsJSON()) as unknown as MetricJson[];
}

/** The sample lines of a Prometheus text, without its HELP and TYPE comments. */
const samples = (text: string) => text.split('\n').filter((line) => line !== '' && !line.startsWith('#'));

describe('combineWorkerMetrics', () => {
  it('sums counters and histograms over the workers and keeps each gauge per worker', async () => {
    const text = await combineWorkerMetrics([
      { worker: '0', metrics: await workerMetrics(3, 1, [0.05, 0.5]) },
      { worker: '1', metrics: await workerMetrics(4, 2, [2]) },
    ]);
    expect(samples(text).sort()).toEqual(
      [
        'calls_total{name="echo"} 7',
        'in_flight{worker="0"} 1',
        'in_flight{worker="1"} 2',
        'call_seconds_bucket{le="0.1"} 1',
        'call_seconds_bucket{le="1"} 2',
        'call_seconds_bucket{le="+Inf"} 3',
        'call_seconds_sum 2.55',
        'call_seconds_count 3',
      ].sort(),
    );
  });

  it('keeps the HELP and TYPE of each metric once', async () => {
    const text = await combineWorkerMetrics([
      { worker: '0', metrics: await workerMetrics(1, 0, []) },
      { worker: '1', metrics: await workerMetrics(1, 0, []) },
    ]);
    expect(text.split('\n').filter((line) => line === '# TYPE calls_total counter')).toHaveLength(1);
    expect(text).toContain('# HELP in_flight In flight');
  });
});
