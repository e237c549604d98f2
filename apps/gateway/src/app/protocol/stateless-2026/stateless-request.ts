import type { IncomingHttpHeaders } from 'node:http';
import {
  CLIENT_CAPABILITIES_META_KEY,
  CLIENT_INFO_META_KEY,
  LOG_LEVEL_META_KEY,
  PROTOCOL_VERSION_META_KEY,
  ProtocolErrorCode,
  SERVER_INFO_META_KEY,
  SUBSCRIPTION_ID_META_KEY,
} from '@modelcontextprotocol/server';
import type { LogLevel } from '@fabric/contracts';
import { traceCarrierOf, traceIdOf, type TraceCarrier } from '../../operations/trace-context';
import { RPC } from '../../operations/rpc.error';
import { STATELESS_PROTOCOL_VERSION } from '../era';

/** The `_meta` keys of the per-request envelope (2026-07-28), as the SDK v2 names them. */
export const META = {
  protocolVersion: PROTOCOL_VERSION_META_KEY,
  clientCapabilities: CLIENT_CAPABILITIES_META_KEY,
  clientInfo: CLIENT_INFO_META_KEY,
  logLevel: LOG_LEVEL_META_KEY,
  serverInfo: SERVER_INFO_META_KEY,
  subscriptionId: SUBSCRIPTION_ID_META_KEY,
} as const;

/** The revisions the stateless era serves. */
export const STATELESS_VERSIONS: readonly string[] = [STATELESS_PROTOCOL_VERSION];

/** JSON-RPC error codes the 2026-07-28 revision adds (the SDK v2 has no constant for a header mismatch). */
export const RPC_2026 = {
  HeaderMismatch: -32020,
  MissingRequiredClientCapability: ProtocolErrorCode.MissingRequiredClientCapability,
  UnsupportedProtocolVersion: ProtocolErrorCode.UnsupportedProtocolVersion,
} as const;

type Json = Record<string, unknown>;

/** What the client declares it can do (`_meta['io.modelcontextprotocol/clientCapabilities']`). */
export type ClientCapabilities = Json;

/** A request of the stateless era whose envelope and headers were checked. */
export interface StatelessRequest {
  id: string | number;
  method: string;
  params: Json;
  capabilities: ClientCapabilities;
  logLevel?: LogLevel;
  progressToken?: string | number;
  traceId?: string;
  /** The W3C trace context the request continues: its `_meta`'s, else its HTTP headers'. */
  trace?: TraceCarrier;
}

/**
 * A request the stateless era refuses before it reaches an operation: an HTTP status and a JSON-RPC error
 * that echoes the request's id.
 */
export class StatelessRejection extends Error {
  constructor(
    readonly status: number,
    readonly code: number,
    message: string,
    readonly id: string | number | null,
    readonly data?: unknown,
  ) {
    super(message);
    this.name = 'StatelessRejection';
  }
}

function isObject(value: unknown): value is Json {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

const LOG_LEVELS = new Set(['debug', 'info', 'notice', 'warning', 'error', 'critical', 'alert', 'emergency']);

/** A header's value without the optional whitespace around it (RFC 9110 §5.5); undefined when absent. */
function header(headers: IncomingHttpHeaders, name: string): string | undefined {
  const value = headers[name];
  return typeof value === 'string' ? value.trim() : undefined;
}

/** The body field that `Mcp-Name` mirrors, for the methods that have one. */
export function nameOf(method: string, params: Json): unknown {
  switch (method) {
    case 'tools/call':
    case 'prompts/get':
      return params['name'];
    case 'resources/read':
      return params['uri'];
    case 'tasks/get':
    case 'tasks/update':
    case 'tasks/cancel':
      return params['taskId'];
    default:
      return undefined;
  }
}

/**
 * Checks one POSTed message of the stateless era, field by field (it runs for every call): a JSON-RPC
 * request with the per-request envelope in `_meta`, the `MCP-Protocol-Version`, `Mcp-Method` and `Mcp-Name`
 * headers agreeing with the body, and a revision this gateway serves. Returns undefined for a notification
 * (nothing to answer); throws a `StatelessRejection` with the spec's status and code otherwise.
 */
export function statelessRequest(headers: IncomingHttpHeaders, body: unknown): StatelessRequest | undefined {
  if (!isObject(body) || body['jsonrpc'] !== '2.0' || typeof body['method'] !== 'string') {
    const id = isObject(body) ? requestIdOf(body['id']) : null;
    throw new StatelessRejection(400, RPC.InvalidRequest, 'Invalid Request: not a JSON-RPC 2.0 request', id);
  }
  const method = body['method'];
  if (body['id'] === undefined) return undefined;
  const id = requestIdOf(body['id']);
  if (id === null) throw new StatelessRejection(400, RPC.InvalidRequest, 'Invalid Request: bad request id', null);
  const params = body['params'] === undefined ? {} : body['params'];
  if (!isObject(params)) throw new StatelessRejection(400, RPC.InvalidParams, 'Invalid params: not an object', id);

  const versionHeader = header(headers, 'mcp-protocol-version');
  if (versionHeader === undefined) {
    throw new StatelessRejection(400, RPC_2026.HeaderMismatch, 'Header mismatch: MCP-Protocol-Version is required', id);
  }
  const meta = params['_meta'];
  const missing = !isObject(meta)
    ? ['_meta']
    : [META.protocolVersion, META.clientCapabilities].filter((key) => meta[key] === undefined);
  if (missing.length > 0) {
    throw new StatelessRejection(400, RPC.InvalidParams, `Invalid params: _meta lacks ${missing.join(', ')}`, id, {
      envelope: { missing },
    });
  }
  const envelope = meta as Json;
  const version = envelope[META.protocolVersion];
  const capabilities = envelope[META.clientCapabilities];
  if (typeof version !== 'string' || !isObject(capabilities)) {
    throw new StatelessRejection(400, RPC.InvalidParams, 'Invalid params: malformed _meta envelope', id);
  }
  if (version !== versionHeader) {
    throw new StatelessRejection(
      400,
      RPC_2026.HeaderMismatch,
      `Header mismatch: MCP-Protocol-Version ${versionHeader} but _meta names ${version}`,
      id,
    );
  }
  if (!STATELESS_VERSIONS.includes(version)) {
    throw new StatelessRejection(400, RPC_2026.UnsupportedProtocolVersion, 'Unsupported protocol version', id, {
      supported: STATELESS_VERSIONS,
      requested: version,
    });
  }
  if (header(headers, 'mcp-method') !== method) {
    throw new StatelessRejection(400, RPC_2026.HeaderMismatch, `Header mismatch: Mcp-Method must be ${method}`, id);
  }
  const name = nameOf(method, params);
  if (typeof name === 'string' && header(headers, 'mcp-name') !== name) {
    throw new StatelessRejection(400, RPC_2026.HeaderMismatch, 'Header mismatch: Mcp-Name must match the body', id);
  }
  const level = envelope[META.logLevel];
  const progressToken = envelope['progressToken'];
  return {
    id,
    method,
    params,
    capabilities,
    logLevel: typeof level === 'string' && LOG_LEVELS.has(level) ? (level as LogLevel) : undefined,
    progressToken: typeof progressToken === 'string' || typeof progressToken === 'number' ? progressToken : undefined,
    ...traceOf(envelope, headers),
  };
}

function traceOf(envelope: Json, headers: IncomingHttpHeaders): Pick<StatelessRequest, 'trace' | 'traceId'> {
  const trace = traceCarrierOf(envelope as TraceCarrier, headers as TraceCarrier);
  return trace ? { trace, traceId: traceIdOf(trace.traceparent) } : {};
}

function requestIdOf(value: unknown): string | number | null {
  return typeof value === 'string' || (typeof value === 'number' && Number.isInteger(value)) ? value : null;
}

/** `=?base64?…?=` (SEP-2243): the value is Base64 of UTF-8; anything else is literal. */
const BASE64_WRAPPED = /^=\?base64\?(.*)\?=$/;
const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;

/** The value an `Mcp-Param-*` header carries, or undefined when its Base64 is malformed. */
export function paramHeaderValue(raw: string): string | undefined {
  const wrapped = BASE64_WRAPPED.exec(raw);
  if (!wrapped) return raw;
  return BASE64.test(wrapped[1]) ? Buffer.from(wrapped[1], 'base64').toString('utf8') : undefined;
}

/**
 * Checks the `Mcp-Param-<Name>` headers of a tools/call against its arguments, for each input property the
 * tool marks with `x-mcp-header` (SEP-2243): a value in the body needs its header, and they must agree.
 */
export function checkParamHeaders(
  headers: IncomingHttpHeaders,
  inputSchema: unknown,
  args: Json | undefined,
  id: string | number,
): void {
  const properties = isObject(inputSchema) ? inputSchema['properties'] : undefined;
  if (!isObject(properties)) return;
  for (const key in properties) {
    const property = properties[key];
    const headerName = isObject(property) ? property['x-mcp-header'] : undefined;
    if (typeof headerName !== 'string') continue;
    const value = args?.[key];
    if (value === undefined || value === null || typeof value === 'object') continue;
    const raw = header(headers, `mcp-param-${headerName.toLowerCase()}`);
    const decoded = raw === undefined ? undefined : paramHeaderValue(raw);
    if (decoded !== String(value)) {
      throw new StatelessRejection(
        400,
        RPC_2026.HeaderMismatch,
        `Header mismatch: Mcp-Param-${headerName} must carry the argument ${key}`,
        id,
      );
    }
  }
}
