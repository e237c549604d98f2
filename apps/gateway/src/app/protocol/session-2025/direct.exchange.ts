import type { ServerResponse } from 'node:http';
import type { JSONRPCMessage, RequestId } from '@modelcontextprotocol/sdk/types.js';
import { SSE_HEADERS, type SseWriter } from '../../http/sse';
import { InsufficientScopeError } from '../../policy/policy.errors';
import { RPC, RpcError, rpcErrorResponse } from '../../operations/rpc.error';
import { successJson } from '../response-json';
import type { Canceller } from './cancellations';

/** Writes a message on the stream of the request being served. */
export type Emit = (message: JSONRPCMessage) => Promise<void>;

export interface DirectExchange {
  res: ServerResponse;
  id: RequestId;
  /** Opens the request's SSE stream (on the first message the work emits). */
  openStream: (res: ServerResponse) => SseWriter<JSONRPCMessage>;
  /** Registers how to stop the work (see `Cancellations`); returns the unregistration. */
  register: (cancel: Canceller) => () => void;
  work: (signal: AbortSignal, emit: Emit) => Promise<unknown>;
}

/**
 * Answers one request without the session's SDK server (the hot path): plain JSON when it emits nothing
 * but its response, SSE from the first message the work emits (progress, logs, requests to the client).
 * A client that disconnects from a plain JSON answer, or cancels, aborts the work's signal. An
 * `InsufficientScopeError` before anything was written is thrown back, for the caller's HTTP 403.
 */
export async function answerDirect({ res, id, openStream, register, work }: DirectExchange): Promise<void> {
  // The client may have gone while its session was being looked up.
  if (res.destroyed || res.socket?.destroyed) return;
  const controller = new AbortController();
  let writer: SseWriter<JSONRPCMessage> | undefined;
  // A client gone from a plain JSON answer cannot come back for it: stop the work. A stream can be resumed.
  const onClose = () => {
    if (!res.writableFinished && !writer) controller.abort(new Error('client disconnected'));
  };
  const unregister = register((reason) => controller.abort(new Error(reason)));
  res.once('close', onClose);
  const emit: Emit = (message) => {
    if (controller.signal.aborted) return Promise.resolve();
    writer ??= openStream(res);
    return writer.write(message);
  };
  let response: JSONRPCMessage;
  let result: Record<string, unknown> | undefined;
  let refused: InsufficientScopeError | undefined;
  try {
    result = (await work(controller.signal, emit)) as Record<string, unknown>;
    response = { jsonrpc: '2.0', id, result };
  } catch (error) {
    if (error instanceof InsufficientScopeError && !writer) refused = error;
    const rpc = error instanceof RpcError ? error : new RpcError(RPC.InternalError, 'Internal error');
    response = rpcErrorResponse(id, rpc) as JSONRPCMessage;
  } finally {
    unregister();
    res.off('close', onClose);
  }
  if (refused) throw refused;
  // A cancelled request gets no response message (MCP), but its HTTP exchange still ends.
  if (writer) {
    if (!controller.signal.aborted) await writer.write(response);
    await writer.end();
    return;
  }
  if (res.destroyed || res.writableEnded) return;
  if (controller.signal.aborted) res.writeHead(200, SSE_HEADERS).end();
  else
    res
      .writeHead(200, { 'Content-Type': 'application/json' })
      .end(result ? successJson(id, result) : JSON.stringify(response));
}
