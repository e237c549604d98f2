import type { ServerResponse } from 'node:http';
import { rpcErrorResponse } from '../operations/rpc.error';

/** An HTTP-level rejection: status and JSON-RPC error to answer with. */
export class HttpRejection extends Error {
  constructor(
    readonly status: number,
    readonly rpcCode: number,
    message: string,
    readonly headers: Record<string, string> = {},
    /** The JSON-RPC id of the request refused, when it is known. */
    readonly requestId: string | number | null = null,
  ) {
    super(message);
    this.name = 'HttpRejection';
  }
}

/** Answers a rejected request (or ends a response already started). */
export function reject(res: ServerResponse, rejection: HttpRejection): void {
  if (res.headersSent) {
    res.end();
    return;
  }
  const body = JSON.stringify(
    rpcErrorResponse(rejection.requestId, { code: rejection.rpcCode, message: rejection.message }),
  );
  res.writeHead(rejection.status, { ...rejection.headers, 'Content-Type': 'application/json' }).end(body);
}
