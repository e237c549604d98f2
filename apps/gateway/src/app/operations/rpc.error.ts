/**
 * A JSON-RPC error for the SDK to send as is. (The SDK's `McpError` prefixes its message with
 * "MCP error <code>:", which clients prefix again.)
 */
export class RpcError extends Error {
  constructor(
    readonly code: number,
    message: string,
    readonly data?: unknown,
  ) {
    super(message);
    this.name = 'RpcError';
  }
}

/** JSON-RPC error codes the gateway sends. */
export const RPC = {
  ParseError: -32700,
  InvalidRequest: -32600,
  MethodNotFound: -32601,
  InvalidParams: -32602,
  InternalError: -32603,
  /** Streamable HTTP: bad session header, forbidden origin, etc. */
  ServerError: -32000,
  /** Streamable HTTP: unknown or expired session. */
  SessionNotFound: -32001,
  /** resources/read of an unknown URI. */
  ResourceNotFound: -32002,
} as const;

/** A JSON-RPC error response (`id: null` when the request's id is unknown). */
export function rpcErrorResponse(
  id: string | number | null,
  error: { code: number; message: string; data?: unknown },
): { jsonrpc: '2.0'; id: string | number | null; error: { code: number; message: string; data?: unknown } } {
  const { code, message, data } = error;
  return { jsonrpc: '2.0', id, error: data === undefined ? { code, message } : { code, message, data } };
}
