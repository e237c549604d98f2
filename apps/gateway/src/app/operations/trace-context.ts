/** `version-traceid-parentid-flags` (W3C Trace Context); version `ff` is invalid, as is an all-zero id. */
const TRACEPARENT = /^([0-9a-f]{2})-([0-9a-f]{32})-[0-9a-f]{16}-[0-9a-f]{2}/;

/** The trace id of a W3C `traceparent` value, or undefined when it is absent or malformed. */
export function traceIdOf(traceparent: unknown): string | undefined {
  if (typeof traceparent !== 'string' || traceparent.length < 55) return undefined;
  const match = TRACEPARENT.exec(traceparent);
  if (!match || match[1] === 'ff' || match[2] === '00000000000000000000000000000000') return undefined;
  return match[2];
}
