export { ObservabilityModule } from './observability.module';
export { AccessLog } from './access.log';
export type { AccessLine } from './access.log';
export type { ObservabilityOptions } from './observability.module';
export { MetricsRegistry } from './metrics.registry';
export { ReadinessRegistry } from './readiness.registry';
export type { ReadinessCheck, ReadinessDetail } from './readiness.registry';
export { HttpDrain } from './http.drain';
export { aggregateWorkerMetrics } from './worker.metrics';
