// The MCP side of a benchmark: opening a Streamable HTTP session, the tools/call request the load
// generator repeats, and the check every response must pass.

export const PROTOCOL_VERSION = '2025-11-25';
/** The stateless revision: no session, every request carries its envelope and the Mcp-Method/Mcp-Name headers. */
export const STATELESS_VERSION = '2026-07-28';

const ENVELOPE = {
  'io.modelcontextprotocol/protocolVersion': STATELESS_VERSION,
  'io.modelcontextprotocol/clientCapabilities': {},
};

/** The headers of a stateless tools/call of `name` (the same for every call of the tool). */
export function statelessHeaders(name) {
  return { 'mcp-protocol-version': STATELESS_VERSION, 'mcp-method': 'tools/call', 'mcp-name': name };
}

/** Replaced by a unique JSON-RPC id in every request (a repeated id inside one session can hang a server). */
export const ID_PLACEHOLDER = '"__ID__"';

const ACCEPT = 'application/json, text/event-stream';

async function post(url, message, headers = {}) {
  const response = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', accept: ACCEPT, ...headers },
    body: JSON.stringify(message),
  });
  const body = await response.text();
  if (response.status >= 300) throw new Error(`${message.method}: HTTP ${response.status} ${body.slice(0, 300)}`);
  return { response, body };
}

/**
 * Initializes a session on the MCP endpoint `url` and returns the headers every later request of the
 * session carries.
 */
export async function openSession(url) {
  const { response, body } = await post(url, {
    jsonrpc: '2.0',
    id: 0,
    method: 'initialize',
    params: {
      protocolVersion: PROTOCOL_VERSION,
      capabilities: {},
      clientInfo: { name: 'fabric-bench', version: '1.0.0' },
    },
  });
  const initialized = parseMessage(body, response.headers.get('content-type'), 0);
  if (!initialized?.result) throw new Error(`initialize failed: ${body.slice(0, 300)}`);
  const sessionId = response.headers.get('mcp-session-id');
  const headers = { 'mcp-protocol-version': PROTOCOL_VERSION, ...(sessionId ? { 'mcp-session-id': sessionId } : {}) };
  await post(url, { jsonrpc: '2.0', method: 'notifications/initialized' }, headers);
  return headers;
}

/** Names of the tools the session sees (all pages). */
export async function listTools(url, headers, stateless = false) {
  const names = [];
  let cursor;
  let id = 1;
  do {
    const params = { ...(cursor ? { cursor } : {}), ...(stateless ? { _meta: ENVELOPE } : {}) };
    const { response, body } = await post(
      url,
      { jsonrpc: '2.0', id, method: 'tools/list', params },
      stateless ? { 'mcp-protocol-version': STATELESS_VERSION, 'mcp-method': 'tools/list' } : headers,
    );
    const result = parseMessage(body, response.headers.get('content-type'), id)?.result;
    if (!result) throw new Error(`tools/list failed: ${body.slice(0, 300)}`);
    names.push(...result.tools.map((tool) => tool.name));
    cursor = result.nextCursor;
    id++;
  } while (cursor);
  return names;
}

/** Calls tool `name` once on the session and returns its result; throws on a JSON-RPC error or an `isError` result. */
export async function callTool(url, headers, name, args, id) {
  const { response, body } = await post(
    url,
    { jsonrpc: '2.0', id, method: 'tools/call', params: { name, arguments: args } },
    headers,
  );
  const message = parseMessage(body, response.headers.get('content-type'), id);
  if (!message?.result || message.result.isError === true) throw new Error(`${name} failed: ${body.slice(0, 300)}`);
  return message.result;
}

/** The text of a tool result, as the load generator compares it. */
export function resultText(result) {
  return (result.content ?? []).map((block) => block.text ?? '').join('\n');
}

/** The body of a tools/call request, with ID_PLACEHOLDER where the load generator puts each request's id. */
export function toolsCallTemplate(name, args, stateless = false) {
  const params = { name, arguments: args, ...(stateless ? { _meta: ENVELOPE } : {}) };
  return JSON.stringify({ jsonrpc: '2.0', id: '__ID__', method: 'tools/call', params });
}

/** The JSON-RPC message answering request `id` in a JSON or SSE response body (undefined when absent). */
export function parseMessage(body, contentType, id) {
  if (contentType?.includes('text/event-stream')) {
    for (const line of body.split('\n')) {
      // Priming events (SEP-1699) carry an empty data line.
      if (!line.startsWith('data:') || line.slice(5).trim() === '') continue;
      const message = JSON.parse(line.slice(5));
      if (message.id === id) return message;
    }
    return undefined;
  }
  return JSON.parse(body);
}

/**
 * Why a tools/call response is not the expected success (undefined when it is): HTTP status, JSON-RPC
 * error, `isError` result, or a text that differs from `expectText`.
 */
export function checkToolResult(status, body, contentType, id, expectText) {
  if (status !== 200) return { kind: 'status', detail: `HTTP ${status} ${body.slice(0, 200)}` };
  let message;
  try {
    message = parseMessage(body, contentType, id);
  } catch {
    return { kind: 'body', detail: `unparsable body: ${body.slice(0, 200)}` };
  }
  if (!message) return { kind: 'body', detail: `no response to id ${id}: ${body.slice(0, 200)}` };
  if (message.error || !message.result) return { kind: 'rpc', detail: JSON.stringify(message).slice(0, 200) };
  if (message.id !== id) return { kind: 'body', detail: `answer to id ${message.id} instead of ${id}` };
  if (message.result.isError === true) return { kind: 'isError', detail: JSON.stringify(message.result).slice(0, 200) };
  const text = resultText(message.result);
  if (text !== expectText)
    return {
      kind: 'body',
      detail: `text ${JSON.stringify(text.slice(0, 100))} instead of ${JSON.stringify(expectText)}`,
    };
  return undefined;
}
