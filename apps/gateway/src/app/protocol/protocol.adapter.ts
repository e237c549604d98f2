import type { IncomingMessage, ServerResponse } from 'node:http';

/** What the protocol layer tells the HTTP layer about a request, for its access line. */
export interface AccessNote {
  /** The JSON-RPC method (of the first message of a batch). */
  method?: string;
  /** The tool, prompt or resource URI the request is about. */
  target?: string;
  /** The session the request belongs to. */
  session?: string;
}

/**
 * One protocol era on the MCP endpoint. The HTTP layer has checked the headers and read the body; the
 * adapter answers on `res` (also its errors, other than `HttpRejection`s it throws).
 */
export interface ProtocolAdapter {
  post(req: IncomingMessage, res: ServerResponse, body: unknown, note: AccessNote): Promise<void>;
  stream(req: IncomingMessage, res: ServerResponse, note: AccessNote): Promise<void>;
  remove(req: IncomingMessage, res: ServerResponse, note: AccessNote): Promise<void>;
}
