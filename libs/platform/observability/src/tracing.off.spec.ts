import { ROOT_CONTEXT } from '@opentelemetry/api';
import { continueFrom, injectHeaders, startTracing, traceIdOf, traced, tracingEnabled } from './tracing';

// This process has no OTEL_EXPORTER_OTLP_ENDPOINT: the state every test run and every untraced app is in.
describe('tracing off', () => {
  it('stays off without an OTLP endpoint, and its handle shuts down at once', async () => {
    delete process.env['OTEL_EXPORTER_OTLP_ENDPOINT'];
    const handle = startTracing('spec');
    expect(handle.enabled).toBe(false);
    expect(tracingEnabled()).toBe(false);
    await expect(handle.shutdown()).resolves.toBeUndefined();
  });

  it('runs traced work as it is, in the context it was called in', async () => {
    await expect(traced('work', 0, {}, async () => 42)).resolves.toBe(42);
    await expect(traced('work', 0, {}, () => Promise.reject(new Error('no')))).rejects.toThrow('no');
  });

  it('still reads a client traceparent (for access lines) and writes nothing for a context without a span', () => {
    const ctx = continueFrom('00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01');
    expect(traceIdOf(ctx)).toBe('4bf92f3577b34da6a3ce929d0e0e4736');
    expect(injectHeaders(ROOT_CONTEXT, {})).toEqual({});
    expect(continueFrom(undefined)).toBe(ROOT_CONTEXT);
  });
});
