import type { RequestId } from '@modelcontextprotocol/sdk/types.js';

/** JSON text of results already written once: a cached result answered again is not serialized again. */
const serialized = new WeakMap<object, string>();

/**
 * The JSON text of a JSON-RPC success response. Results are treated as immutable once answered (cache hits
 * hand out the same object), so each result object is serialized once, however often it is answered.
 */
export function successJson(id: RequestId, result: object): string {
  let json = serialized.get(result);
  if (json === undefined) {
    json = JSON.stringify(result);
    serialized.set(result, json);
  }
  return `{"jsonrpc":"2.0","id":${JSON.stringify(id)},"result":${json}}`;
}

/**
 * The JSON text of a success response whose result gains `fields` (pre-serialized members, e.g.
 * `"resultType":"complete"`) ahead of its own: the result object is neither copied nor serialized again.
 */
export function successJsonWith(id: RequestId, result: object, fields: string): string {
  let json = serialized.get(result);
  if (json === undefined) {
    json = JSON.stringify(result);
    serialized.set(result, json);
  }
  const members = json === '{}' ? `{${fields}}` : `{${fields},${json.slice(1)}`;
  return `{"jsonrpc":"2.0","id":${JSON.stringify(id)},"result":${members}}`;
}
