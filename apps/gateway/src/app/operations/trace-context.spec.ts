import { traceCarrierOf, traceIdOf } from './trace-context';

describe('traceIdOf', () => {
  it('reads the trace id of a well-formed traceparent', () => {
    expect(traceIdOf('00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01')).toBe(
      '4bf92f3577b34da6a3ce929d0e0e4736',
    );
  });

  it('ignores absent, malformed, invalid-version and all-zero values', () => {
    expect(traceIdOf(undefined)).toBeUndefined();
    expect(traceIdOf(42)).toBeUndefined();
    expect(traceIdOf('00-xyz')).toBeUndefined();
    expect(traceIdOf('ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01')).toBeUndefined();
    expect(traceIdOf('00-00000000000000000000000000000000-00f067aa0ba902b7-01')).toBeUndefined();
  });
});

describe('traceCarrierOf', () => {
  const meta = { traceparent: '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01' };
  const headers = { traceparent: '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01', tracestate: 'a=1' };

  it("prefers the request's _meta, then its HTTP headers", () => {
    expect(traceCarrierOf(meta, headers)).toBe(meta);
    expect(traceCarrierOf({}, headers)).toBe(headers);
    expect(traceCarrierOf(undefined, headers)).toBe(headers);
  });

  it('skips a malformed traceparent, and finds none when neither names a trace', () => {
    expect(traceCarrierOf({ traceparent: 'nope' }, headers)).toBe(headers);
    expect(traceCarrierOf({ traceparent: 'nope' }, {})).toBeUndefined();
    expect(traceCarrierOf(undefined, undefined)).toBeUndefined();
  });
});
