import {
  ROOT_CONTEXT,
  SpanKind,
  SpanStatusCode,
  context as contexts,
  defaultTextMapGetter,
  defaultTextMapSetter,
  trace,
  type Attributes,
  type Context,
  type Span,
} from '@opentelemetry/api';
import { W3CTraceContextPropagator } from '@opentelemetry/core';
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-http';
import {
  defaultResource,
  detectResources,
  envDetector,
  resourceFromAttributes,
  serviceInstanceIdDetector,
} from '@opentelemetry/resources';
import { BatchSpanProcessor, NodeTracerProvider, type SpanProcessor } from '@opentelemetry/sdk-trace-node';
import { ATTR_SERVICE_NAME } from '@opentelemetry/semantic-conventions';

export { SpanKind };
export type { Context as TraceContext, Span };

/** What `startTracing` gives back: the way to flush the spans still buffered when the app stops. */
export interface TracingHandle {
  /** Whether spans are recorded and exported in this process. */
  readonly enabled: boolean;
  /** Exports what is buffered and stops exporting (on the app's shutdown). */
  shutdown(): Promise<void>;
}

export interface TracingOptions {
  /** Where finished spans go instead of an OTLP/HTTP exporter behind a batch processor (tests: on even without an endpoint). */
  spanProcessor?: SpanProcessor;
}

const OFF: TracingHandle = { enabled: false, shutdown: () => Promise.resolve() };

const propagator = new W3CTraceContextPropagator();
/** A proxy until a provider is registered: every span it makes is real once `startTracing` ran. */
const tracer = trace.getTracer('mcp-fabric');
let enabled = false;
let started: TracingHandle | undefined;

/**
 * Whether this process records spans. Every call site checks it first: with tracing off nothing is allocated
 * per request (no span, no context, no header).
 */
export function tracingEnabled(): boolean {
  return enabled;
}

/**
 * Starts the OpenTelemetry SDK when `OTEL_EXPORTER_OTLP_ENDPOINT` (or `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`)
 * is set and `OTEL_SDK_DISABLED` is not `true`: spans of this process go over OTLP/HTTP (JSON) in batches
 * (`OTEL_BSP_*`), sampled as `OTEL_TRACES_SAMPLER` says (default: parent-based, always on), under the resource
 * `service.name` = `OTEL_SERVICE_NAME` else `serviceName`, a `service.instance.id` of this process, and
 * `OTEL_RESOURCE_ATTRIBUTES`. Once per process: a second call returns the first handle.
 */
export function startTracing(serviceName: string, options: TracingOptions = {}): TracingHandle {
  if (started) return started;
  // The SDK reads the same variables (exporter, batch processor, sampler, resource): the process's environment.
  const env = process.env;
  const endpoint = env['OTEL_EXPORTER_OTLP_ENDPOINT'] || env['OTEL_EXPORTER_OTLP_TRACES_ENDPOINT'];
  if ((!endpoint && !options.spanProcessor) || env['OTEL_SDK_DISABLED']?.toLowerCase() === 'true') return OFF;
  // The environment's detectors come last: OTEL_SERVICE_NAME and OTEL_RESOURCE_ATTRIBUTES win over our defaults.
  const resource = defaultResource()
    .merge(resourceFromAttributes({ [ATTR_SERVICE_NAME]: serviceName }))
    .merge(detectResources({ detectors: [serviceInstanceIdDetector, envDetector] }));
  const provider = new NodeTracerProvider({
    resource,
    spanProcessors: [options.spanProcessor ?? new BatchSpanProcessor(new OTLPTraceExporter())],
  });
  // The W3C trace context only (no baggage); the default context manager (AsyncLocalStorage) carries the
  // active span across awaits, so that spans deep in a call (cache, Redis) find their parent.
  provider.register({ propagator });
  enabled = true;
  let stopping: Promise<void> | undefined;
  started = {
    enabled: true,
    shutdown: () => {
      stopping ??= provider.shutdown().finally(() => {
        enabled = false;
      });
      return stopping;
    },
  };
  return started;
}

/** The context of a remote parent named by a W3C `traceparent` (and `tracestate`); the root context without one. */
export function continueFrom(traceparent?: string, tracestate?: string): Context {
  if (!traceparent) return ROOT_CONTEXT;
  return propagator.extract(
    ROOT_CONTEXT,
    tracestate ? { traceparent, tracestate } : { traceparent },
    defaultTextMapGetter,
  );
}

/** The context of the remote parent a message's headers name (`traceparent`, `tracestate`). */
export function extractFromHeaders(header: (name: string) => string | undefined): Context {
  return continueFrom(header('traceparent'), header('tracestate'));
}

/** Writes `traceparent` (and `tracestate`) of the span in `ctx` into `headers`; returns them. */
export function injectHeaders(ctx: Context, headers: Record<string, string>): Record<string, string> {
  propagator.inject(ctx, headers, defaultTextMapSetter);
  return headers;
}

/** The trace id of the span (local or remote) in `ctx`, or undefined when it holds none. */
export function traceIdOf(ctx: Context): string | undefined {
  const span = trace.getSpanContext(ctx);
  return span && trace.isSpanContextValid(span) ? span.traceId : undefined;
}

/** A span started as a child of `parent` (call only when `tracingEnabled()`). */
export function startSpan(name: string, kind: SpanKind, parent: Context, attributes?: Attributes): Span {
  return tracer.startSpan(name, { kind, attributes }, parent);
}

/** `ctx` with `span` as its span: the parent of what runs in it. */
export function withSpan(ctx: Context, span: Span): Context {
  return trace.setSpan(ctx, span);
}

/** The active context (AsyncLocalStorage): where a span started deep in a call finds its parent. */
export function activeContext(): Context {
  return contexts.active();
}

/** Runs `work` with `ctx` active. */
export function runWithin<T>(ctx: Context, work: () => T): T {
  return contexts.with(ctx, work);
}

/** Ends a span, with an error status when `error` is given (its name and message, never a stack). */
export function endSpan(span: Span, error?: unknown): void {
  if (error !== undefined) {
    const message = error instanceof Error ? `${error.name}: ${error.message}` : String(error);
    span.setStatus({ code: SpanStatusCode.ERROR, message });
  }
  span.end();
}

/** Marks a span failed without ending it (a failure answered as a result, e.g. a tool's `isError`). */
export function failSpan(span: Span, message: string): void {
  span.setStatus({ code: SpanStatusCode.ERROR, message });
}

/**
 * Runs `work` in a child span of the active context, ended when it settles (failed when it rejects); with
 * tracing off, just runs it.
 */
export function traced<T>(name: string, kind: SpanKind, attributes: Attributes, work: () => Promise<T>): Promise<T> {
  if (!enabled) return work();
  const parent = contexts.active();
  const span = tracer.startSpan(name, { kind, attributes }, parent);
  return contexts.with(trace.setSpan(parent, span), work).then(
    (value) => {
      span.end();
      return value;
    },
    (error: unknown) => {
      endSpan(span, error);
      throw error;
    },
  );
}
