/** `version-traceid-parentid-flags` (W3C Trace Context); version `ff` is invalid, as is an all-zero id. */
const TRACEPARENT = /^([0-9a-f]{2})-([0-9a-f]{32})-[0-9a-f]{16}-[0-9a-f]{2}/;

/** The trace id of a W3C `traceparent` value, or undefined when it is absent or malformed. */
export function traceIdOf(traceparent: unknown): string | undefined {
  if (typeof traceparent !== 'string' || traceparent.length < 55) return undefined;
  const match = TRACEPARENT.exec(traceparent);
  if (!match || match[1] === 'ff' || match[2] === '00000000000000000000000000000000') return undefined;
  return match[2];
}

/**
 * Where a request's W3C trace context is read: its `_meta` (MCP) or its HTTP headers, both holding
 * `traceparent` and maybe `tracestate`.
 */
export interface TraceCarrier {
  readonly traceparent?: unknown;
  readonly tracestate?: unknown;
  readonly [other: string]: unknown;
}

/**
 * The carrier of the trace a request continues: its `_meta` when that names one, else its HTTP headers when
 * they do, else undefined. The object itself, not a copy (this runs for every call).
 */
export function traceCarrierOf(
  meta: TraceCarrier | undefined,
  headers: TraceCarrier | undefined,
): TraceCarrier | undefined {
  if (meta !== undefined && traceIdOf(meta.traceparent) !== undefined) return meta;
  if (headers !== undefined && traceIdOf(headers.traceparent) !== undefined) return headers;
  return undefined;
}
