export { ObservabilityModule } from './observability.module';
export { AccessLog } from './access.log';
export type { AccessLine } from './access.log';
export type { ObservabilityOptions } from './observability.module';
export { MetricsRegistry } from './metrics.registry';
export { ReadinessRegistry } from './readiness.registry';
export type { ReadinessCheck, ReadinessDetail } from './readiness.registry';
export { HttpDrain } from './http.drain';
export { aggregateWorkerMetrics } from './worker.metrics';
export {
  SpanKind,
  activeContext,
  continueFrom,
  endSpan,
  extractFromHeaders,
  failSpan,
  injectHeaders,
  runWithin,
  startSpan,
  startTracing,
  traceIdOf,
  traced,
  tracingEnabled,
  withSpan,
} from './tracing';
export type { Span, TraceContext, TracingHandle, TracingOptions } from './tracing';
