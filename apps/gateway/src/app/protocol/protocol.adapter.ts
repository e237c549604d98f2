import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Principal } from '@fabric/contracts';

/** What the protocol layer tells the HTTP layer about a request, for its access line. */
export interface AccessNote {
  /** The JSON-RPC method (of the first message of a batch). */
  method?: string;
  /** The tool, prompt or resource URI the request is about. */
  target?: string;
  /** The session the request belongs to. */
  session?: string;
  /** The W3C trace id of the operation, when it has one (else the endpoint reads the HTTP `traceparent`). */
  trace?: string;
}

/** What the HTTP layer established about one request. */
export interface RequestScope {
  /** Filled in for the access line. */
  note: AccessNote;
  /** Who sent it (undefined when the gateway runs open). */
  principal?: Principal;
}

/**
 * One protocol era on the MCP endpoint. The HTTP layer has checked the headers and read the body; the
 * adapter answers on `res` (also its errors, other than `HttpRejection`s it throws).
 */
export interface ProtocolAdapter {
  post(req: IncomingMessage, res: ServerResponse, body: unknown, scope: RequestScope): Promise<void>;
  stream(req: IncomingMessage, res: ServerResponse, scope: RequestScope): Promise<void>;
  remove(req: IncomingMessage, res: ServerResponse, scope: RequestScope): Promise<void>;
}
