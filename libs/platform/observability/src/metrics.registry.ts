import { Injectable, type OnModuleDestroy } from '@nestjs/common';
import cluster from 'node:cluster';
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';
import { WorkerMetricsClient } from './worker.metrics';

/** The process's Prometheus registry; every metric is created here once, by name, and shared. */
@Injectable()
export class MetricsRegistry implements OnModuleDestroy {
  readonly registry = new Registry();
  private readonly metrics = new Map<string, Counter | Gauge | Histogram>();
  /** In a worker of `WORKERS` > 1: the link to the primary, which combines the metrics of every worker. */
  private readonly workers?: WorkerMetricsClient;

  constructor() {
    collectDefaultMetrics({ register: this.registry });
    if (cluster.isWorker) this.workers = new WorkerMetricsClient(this.registry);
  }

  /**
   * What `/metrics` answers: this process's metrics or, in a worker, those of every worker (counters and
   * histograms summed, gauges per worker); rejects with a `WorkerMetricsError` when a worker does not answer.
   */
  text(): Promise<string> {
    return this.workers ? this.workers.scrape() : this.registry.metrics();
  }

  onModuleDestroy(): void {
    this.workers?.close();
  }

  counter<L extends string>(name: string, help: string, labelNames: readonly L[] = []): Counter<L> {
    return this.getOrCreate(name, () => new Counter({ name, help, labelNames, registers: [this.registry] }));
  }

  /**
   * A gauge; with `collect`, its value is set when `/metrics` is read (nothing to maintain on a hot path:
   * `collect` reads the state and sets it on the gauge it is given).
   */
  gauge<L extends string>(
    name: string,
    help: string,
    labelNames: readonly L[] = [],
    collect?: (gauge: Gauge<L>) => void,
  ): Gauge<L> {
    return this.getOrCreate(
      name,
      () =>
        new Gauge({
          name,
          help,
          labelNames,
          registers: [this.registry],
          ...(collect
            ? {
                collect(this: Gauge<L>) {
                  collect(this);
                },
              }
            : {}),
        }),
    );
  }

  histogram<L extends string>(
    name: string,
    help: string,
    labelNames: readonly L[] = [],
    buckets?: number[],
  ): Histogram<L> {
    return this.getOrCreate(
      name,
      () =>
        new Histogram({
          name,
          help,
          labelNames,
          buckets: buckets ?? [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
          registers: [this.registry],
        }),
    );
  }

  private getOrCreate<M extends Counter | Gauge | Histogram>(name: string, create: () => M): M {
    const existing = this.metrics.get(name);
    if (existing) return existing as M;
    const metric = create();
    this.metrics.set(name, metric);
    return metric;
  }
}
