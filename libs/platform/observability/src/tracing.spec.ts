import { InMemorySpanExporter, SimpleSpanProcessor } from '@opentelemetry/sdk-trace-base';
import {
  SpanKind,
  activeContext,
  continueFrom,
  endSpan,
  extractFromHeaders,
  injectHeaders,
  runWithin,
  startSpan,
  startTracing,
  traceIdOf,
  traced,
  tracingEnabled,
  withSpan,
} from './tracing';

const TRACE_ID = '4bf92f3577b34da6a3ce929d0e0e4736';
const CLIENT_SPAN = '00f067aa0ba902b7';
const TRACEPARENT = `00-${TRACE_ID}-${CLIENT_SPAN}-01`;

describe('tracing on', () => {
  const exporter = new InMemorySpanExporter();
  const handle = startTracing('spec-app', { spanProcessor: new SimpleSpanProcessor(exporter) });

  afterEach(() => exporter.reset());
  afterAll(() => handle.shutdown());

  it('is on once started, and a second start returns the same handle', () => {
    expect(handle.enabled).toBe(true);
    expect(tracingEnabled()).toBe(true);
    expect(startTracing('another')).toBe(handle);
  });

  it('continues a client traceparent: the span is in its trace, parented by the client span', () => {
    const span = startSpan('tools/call echo', SpanKind.SERVER, continueFrom(TRACEPARENT), { 'mcp.method': 'x' });
    endSpan(span);
    const [finished] = exporter.getFinishedSpans();
    expect(finished.spanContext().traceId).toBe(TRACE_ID);
    expect(finished.parentSpanContext?.spanId).toBe(CLIENT_SPAN);
    expect(finished.kind).toBe(SpanKind.SERVER);
    expect(finished.resource.attributes['service.name']).toBe('spec-app');
    expect(finished.resource.attributes['service.instance.id']).toEqual(expect.any(String));
  });

  it('carries a span across headers: what one side injects, the other extracts as the parent', () => {
    const sender = startSpan('nats call', SpanKind.CLIENT, continueFrom(TRACEPARENT));
    const headers = injectHeaders(withSpan(continueFrom(TRACEPARENT), sender), {});
    expect(headers['traceparent']).toBe(`00-${TRACE_ID}-${sender.spanContext().spanId}-01`);
    const received = extractFromHeaders((name) => headers[name]);
    expect(traceIdOf(received)).toBe(TRACE_ID);
    const handler = startSpan('tools.call echo', SpanKind.SERVER, received);
    endSpan(handler);
    endSpan(sender);
    const spans = exporter.getFinishedSpans();
    expect(spans.find((span) => span.name === 'tools.call echo')?.parentSpanContext?.spanId).toBe(
      sender.spanContext().spanId,
    );
  });

  it('keeps tracestate across headers', () => {
    const headers = injectHeaders(continueFrom(TRACEPARENT, 'vendor=abc'), {});
    expect(headers).toEqual({ traceparent: TRACEPARENT, tracestate: 'vendor=abc' });
  });

  it('ignores a malformed traceparent: the span starts a trace of its own', () => {
    const ctx = continueFrom('00-not-a-trace');
    expect(traceIdOf(ctx)).toBeUndefined();
    const span = startSpan('root', SpanKind.SERVER, ctx);
    endSpan(span, new Error('boom'));
    const [finished] = exporter.getFinishedSpans();
    expect(finished.parentSpanContext).toBeUndefined();
    expect(finished.status).toEqual({ code: 2, message: 'Error: boom' });
  });

  it('parents traced work by the active span, across awaits', async () => {
    const parent = startSpan('parent', SpanKind.SERVER, continueFrom(TRACEPARENT));
    await runWithin(withSpan(activeContext(), parent), async () => {
      await new Promise((resolve) => setImmediate(resolve));
      await traced('redis read', SpanKind.CLIENT, { 'db.system': 'redis' }, async () => 'ok');
      await traced('failing', SpanKind.INTERNAL, {}, () => Promise.reject(new Error('down'))).catch(() => undefined);
    });
    endSpan(parent);
    const spans = exporter.getFinishedSpans();
    const child = spans.find((span) => span.name === 'redis read');
    expect(child?.parentSpanContext?.spanId).toBe(parent.spanContext().spanId);
    expect(child?.attributes['db.system']).toBe('redis');
    expect(spans.find((span) => span.name === 'failing')?.status.code).toBe(2);
  });
});
