import { traceIdOf } from './trace-context';

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
