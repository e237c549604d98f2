import type { RequestId } from '@modelcontextprotocol/sdk/types.js';
import { traceCarrierOf, type TraceCarrier } from '../operations/trace-context';
import { IDEMPOTENCY_META_KEY } from '../routing/idempotency-key';

interface DirectBase {
  id: RequestId;
  progressToken?: string | number;
  /** The request's `_meta` when it names a W3C trace (`traceparent`, well formed). */
  trace?: TraceCarrier;
}

/** A request the gateway answers itself, without the session's SDK server: the calls routed to services. */
export type DirectRequest = DirectBase &
  (
    | { method: 'tools/call'; name: string; arguments?: Record<string, unknown>; idempotencyKey?: string }
    | { method: 'resources/read'; uri: string }
    | { method: 'prompts/get'; name: string; arguments?: Record<string, string> }
  );

type Json = Record<string, unknown>;

function isObject(value: unknown): value is Json {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function isRequestId(value: unknown): value is RequestId {
  return typeof value === 'string' || (typeof value === 'number' && Number.isInteger(value));
}

function isStringRecord(value: Json): value is Record<string, string> {
  for (const key in value) if (typeof value[key] !== 'string') return false;
  return true;
}

/**
 * The parsed body of a POST as a direct request, or undefined. Only a well-formed JSON-RPC request sent
 * alone qualifies, checked field by field (a strict subset of what the SDK's schemas accept): anything
 * else — batches, notifications, responses, malformed params — takes the SDK's path, which owns the error
 * answers.
 */
export function directRequest(body: unknown): DirectRequest | undefined {
  if (!isObject(body) || body['jsonrpc'] !== '2.0' || !isRequestId(body['id'])) return undefined;
  const params = body['params'];
  if (!isObject(params)) return undefined;
  const meta = params['_meta'];
  if (meta !== undefined && !isObject(meta)) return undefined;
  const progressToken = meta?.['progressToken'];
  if (progressToken !== undefined && typeof progressToken !== 'string' && typeof progressToken !== 'number')
    return undefined;
  const id = body['id'];
  const trace = meta === undefined ? undefined : traceCarrierOf(meta, undefined);
  const name = params['name'];
  const args = params['arguments'];
  if (args !== undefined && !isObject(args)) return undefined;
  // Objects built whole (no spreads): this runs for every call.
  switch (body['method']) {
    case 'tools/call': {
      // A malformed key takes the SDK's path too (which answers it as the invalid argument it is).
      const key = meta?.[IDEMPOTENCY_META_KEY];
      if (typeof name !== 'string' || (key !== undefined && typeof key !== 'string')) return undefined;
      // Run as a task: the SDK's path creates it (and checks its answer against the task request).
      if (params['task'] !== undefined) return undefined;
      return { id, progressToken, trace, method: 'tools/call', name, arguments: args, idempotencyKey: key };
    }
    case 'resources/read': {
      const uri = params['uri'];
      return typeof uri === 'string' ? { id, progressToken, trace, method: 'resources/read', uri } : undefined;
    }
    case 'prompts/get':
      return typeof name === 'string' && (args === undefined || isStringRecord(args))
        ? { id, progressToken, trace, method: 'prompts/get', name, arguments: args }
        : undefined;
    default:
      return undefined;
  }
}
