import type { IncomingHttpHeaders } from 'node:http';

/** The protocol eras the endpoint tells apart. */
export type Era = 'session-2025' | 'stateless-2026';

/** The first revision without sessions (`initialize`, `Mcp-Session-Id`). */
export const STATELESS_PROTOCOL_VERSION = '2026-07-28';

/**
 * Which era a request speaks, decided before any session check: a session header, or a protocol version
 * before the stateless revision, is session traffic; a request that declares the stateless revision (in
 * its `MCP-Protocol-Version` header or its `_meta`) and names no session is modern.
 */
export function detectEra(headers: IncomingHttpHeaders, body: unknown): Era {
  if (headers['mcp-session-id'] !== undefined) return 'session-2025';
  const header = headers['mcp-protocol-version'];
  if (typeof header === 'string') return header >= STATELESS_PROTOCOL_VERSION ? 'stateless-2026' : 'session-2025';
  const meta = (body as { params?: { _meta?: Record<string, unknown> } } | undefined)?.params?._meta;
  const declared = meta?.['io.modelcontextprotocol/protocolVersion'];
  return typeof declared === 'string' && declared >= STATELESS_PROTOCOL_VERSION ? 'stateless-2026' : 'session-2025';
}
