import { Controller, Get, Header, Inject, ServiceUnavailableException } from '@nestjs/common';
import {
  HealthCheck,
  HealthCheckService,
  HealthIndicatorService,
  type HealthIndicatorFunction,
} from '@nestjs/terminus';
import { MetricsRegistry } from './metrics.registry';
import { ReadinessRegistry } from './readiness.registry';
import { WorkerMetricsError } from './worker.metrics';

/** `/healthz` (the process runs), `/readyz` (its dependencies answer) and `/metrics` (Prometheus text). */
@Controller()
export class HealthController {
  constructor(
    @Inject(HealthCheckService) private readonly health: HealthCheckService,
    @Inject(HealthIndicatorService) private readonly indicators: HealthIndicatorService,
    @Inject(ReadinessRegistry) private readonly readiness: ReadinessRegistry,
    @Inject(MetricsRegistry) private readonly metrics: MetricsRegistry,
  ) {}

  @Get('healthz')
  @HealthCheck()
  liveness() {
    return this.health.check([]);
  }

  @Get('readyz')
  @HealthCheck()
  readinessCheck() {
    const checks: HealthIndicatorFunction[] = [
      () =>
        this.readiness.isStopping
          ? this.indicators.check('process').down('stopping')
          : this.indicators.check('process').up(),
      ...this.readiness.entries().map(([name, check]): HealthIndicatorFunction => async () => {
        const indicator = this.indicators.check(name);
        try {
          await check();
          return indicator.up();
        } catch (error) {
          return indicator.down({ message: error instanceof Error ? error.message : String(error) });
        }
      }),
      ...this.readiness.detailEntries().map(([name, detail]): HealthIndicatorFunction => () => {
        const indicator = this.indicators.check(name);
        try {
          return indicator.up({ ...detail() });
        } catch (error) {
          // A detail is informative only: one that cannot be read still leaves the process ready.
          return indicator.up({ error: error instanceof Error ? error.message : String(error) });
        }
      }),
    ];
    return this.health.check(checks);
  }

  @Get('metrics')
  @Header('Content-Type', 'text/plain; version=0.0.4; charset=utf-8')
  async metricsText(): Promise<string> {
    try {
      return await this.metrics.text();
    } catch (error) {
      // A scrape that would miss a worker fails: partial sums would look like counter resets.
      if (error instanceof WorkerMetricsError) throw new ServiceUnavailableException(error.message);
      throw error;
    }
  }
}
