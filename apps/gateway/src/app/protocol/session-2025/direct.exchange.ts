import type { ServerResponse } from 'node:http';
import type { JSONRPCMessage, RequestId } from '@modelcontextprotocol/sdk/types.js';
import { SSE_HEADERS, type SseWriter } from '../../http/sse';
import { InsufficientScopeError } from '../../policy/policy.errors';
import { RPC, RpcError, rpcErrorResponse } from '../../operations/rpc.error';
import { successJson } from '../response-json';
import type { Canceller } from './cancellations';

/** Writes a message on the stream of the request being served. */
export type Emit = (message: JSONRPCMessage) => Promise<void>;

/** Where a request's abort signal is read when something needs it. */
export interface SignalSource {
  readonly signal: AbortSignal;
}

/**
 * The abort signal of one request, made only when something asks for it: a call answered from the cache
 * never does, and an AbortController per request was a measurable share of such a call.
 */
export class LazyAbort implements SignalSource {
  private controller?: AbortController;
  private reason: unknown;
  aborted = false;

  get signal(): AbortSignal {
    this.controller ??= new AbortController();
    if (this.aborted && !this.controller.signal.aborted) this.controller.abort(this.reason);
    return this.controller.signal;
  }

  abort(reason: unknown): void {
    if (this.aborted) return;
    this.aborted = true;
    this.reason = reason;
    this.controller?.abort(reason);
  }
}

export interface DirectExchange {
  res: ServerResponse;
  id: RequestId;
  /** Opens the request's SSE stream (on the first message the work emits). */
  openStream: (res: ServerResponse) => SseWriter<JSONRPCMessage>;
  /** Registers how to stop the work (see `Cancellations`); returns the unregistration. */
  register: (cancel: Canceller) => () => void;
  work: (abort: SignalSource, emit: Emit) => Promise<unknown>;
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
  const abort = new LazyAbort();
  let writer: SseWriter<JSONRPCMessage> | undefined;
  // A client gone from a plain JSON answer cannot come back for it: stop the work. A stream can be resumed.
  const onClose = () => {
    if (!res.writableFinished && !writer) abort.abort(new Error('client disconnected'));
  };
  const unregister = register((reason) => abort.abort(new Error(reason)));
  res.once('close', onClose);
  const emit: Emit = (message) => {
    if (abort.aborted) return Promise.resolve();
    writer ??= openStream(res);
    return writer.write(message);
  };
  let response: JSONRPCMessage;
  let result: Record<string, unknown> | undefined;
  let refused: InsufficientScopeError | undefined;
  try {
    result = (await work(abort, emit)) as Record<string, unknown>;
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
    if (!abort.aborted) await writer.write(response);
    await writer.end();
    return;
  }
  if (res.destroyed || res.writableEnded) return;
  if (abort.aborted) res.writeHead(200, SSE_HEADERS).end();
  else
    res
      .writeHead(200, { 'Content-Type': 'application/json' })
      .end(result ? successJson(id, result) : JSON.stringify(response));
}
