import type { ServerResponse } from 'node:http';
import type { Transport, TransportSendOptions } from '@modelcontextprotocol/sdk/shared/transport.js';
import {
  isJSONRPCErrorResponse,
  isJSONRPCNotification,
  isJSONRPCRequest,
  isJSONRPCResultResponse,
  type JSONRPCMessage,
  type MessageExtraInfo,
  type RequestId,
} from '@modelcontextprotocol/sdk/types.js';
import { randomBytes } from 'node:crypto';
import { GET_STREAM, SSE_HEADERS, type EventLog, type SseWriter } from './event-log';
import { RPC, RpcError } from './rpc.error';

/** Where the messages answering one POST go. */
interface Exchange {
  deliver(message: JSONRPCMessage, isResponse: boolean): Promise<void>;
}

/** Opens a resumable SSE stream on a response (see `EventLog`). */
type OpenStream = (res: ServerResponse, headers?: Record<string, string>) => SseWriter;

/**
 * The answer to one POST: plain JSON when the requests produce only their responses, SSE as soon as a
 * request emits a notification or a server-to-client request before its response.
 */
class HttpExchange implements Exchange {
  private readonly pending: Set<RequestId>;
  private readonly buffered: JSONRPCMessage[] = [];
  private writer?: SseWriter;
  private closed = false;

  constructor(
    private readonly res: ServerResponse,
    ids: RequestId[],
    private readonly batch: boolean,
    private readonly headers: Record<string, string>,
    private beforeFirstWrite: (() => Promise<void>) | undefined,
    private readonly openStream: OpenStream,
    private readonly onDone: (ids: RequestId[]) => void,
  ) {
    this.pending = new Set(ids);
  }

  /** Once streaming, the answer is resumable: a client that goes away may come back for the rest. */
  get streaming(): boolean {
    return this.writer !== undefined;
  }

  get ids(): RequestId[] {
    return [...this.pending];
  }

  markClosed(): void {
    this.closed = true;
  }

  async deliver(message: JSONRPCMessage, isResponse: boolean): Promise<void> {
    if (this.closed) return;
    if (isResponse) this.pending.delete((message as { id: RequestId }).id);
    const done = this.pending.size === 0;
    if (!this.writer && !isResponse && !(await this.startStream())) return;
    if (this.writer) {
      const writer = this.writer;
      void writer.write(message);
      if (done) this.finish(() => void writer.end());
      return;
    }
    this.buffered.push(message);
    if (!done || !(await this.runBeforeFirstWrite())) return;
    const body = JSON.stringify(this.batch ? this.buffered : this.buffered[0]);
    this.finish(() => {
      this.res.writeHead(200, { ...this.headers, 'Content-Type': 'application/json' }).end(body);
    });
  }

  private async startStream(): Promise<boolean> {
    if (!(await this.runBeforeFirstWrite())) return false;
    this.writer = this.openStream(this.res, this.headers);
    for (const message of this.buffered.splice(0)) void this.writer.write(message);
    return true;
  }

  /** Runs the hook once; when it fails the exchange answers 503 and ends. */
  private async runBeforeFirstWrite(): Promise<boolean> {
    const hook = this.beforeFirstWrite;
    this.beforeFirstWrite = undefined;
    if (!hook) return true;
    try {
      await hook();
      return true;
    } catch {
      const body = JSON.stringify({
        jsonrpc: '2.0',
        error: { code: RPC.InternalError, message: 'Session store unavailable; try again' },
        id: null,
      });
      this.finish(() => this.res.writeHead(503, { 'Content-Type': 'application/json' }).end(body));
      return false;
    }
  }

  private finish(write: () => void): void {
    this.closed = true;
    write();
    this.onDone([]);
  }
}

/** Collects the response to a replayed request (used to restore a session on a new replica). */
class ReplayExchange implements Exchange {
  constructor(private readonly resolve: () => void) {}

  async deliver(_message: JSONRPCMessage, isResponse: boolean): Promise<void> {
    if (isResponse) this.resolve();
  }
}

export interface PostOptions {
  /** Extra response headers (the session id on `initialize`). */
  headers?: Record<string, string>;
  /** Awaited before the first byte of the answer is written (storing a new session). */
  beforeFirstWrite?: () => Promise<void>;
  /** HTTP request details handed to the SDK's handlers. */
  extra?: MessageExtraInfo;
}

/**
 * An SDK `Transport` for one session on this replica. It holds no session state of its own (that is in
 * the session store): it only routes the SDK's outgoing messages to the HTTP responses of this replica.
 */
export class SessionTransport implements Transport {
  onmessage?: (message: JSONRPCMessage, extra?: MessageExtraInfo) => void;
  onclose?: () => void;
  onerror?: (error: Error) => void;

  private readonly exchanges = new Map<RequestId, Exchange>();
  /** Requests answered by `handleDirect`, to abort on `notifications/cancelled`. */
  private readonly direct = new Map<RequestId, AbortController>();
  private standalone?: { res: ServerResponse; writer: SseWriter };
  private closed = false;
  private readonly openStream: OpenStream;

  constructor(
    readonly sessionId: string,
    private readonly events: EventLog,
  ) {
    this.openStream = (res, headers) => events.open(res, sessionId, randomBytes(4).toString('hex'), headers);
  }

  async start(): Promise<void> {
    // Nothing to open: HTTP requests arrive through handlePost/attachStream.
  }

  /**
   * Answers one request without the SDK server (the hot path): plain JSON when it emits nothing but its
   * response, SSE from the first message `work` emits (progress, logs, requests to the client). A client
   * disconnect or `notifications/cancelled` aborts `work`'s signal.
   */
  async handleDirect(
    res: ServerResponse,
    id: RequestId,
    work: (signal: AbortSignal, emit: (message: JSONRPCMessage) => Promise<void>) => Promise<unknown>,
  ): Promise<void> {
    const controller = new AbortController();
    let writer: SseWriter | undefined;
    // A client gone from a plain JSON answer cannot come back for it: stop the work. A stream can be resumed.
    const onClose = () => {
      if (!res.writableFinished && !writer) controller.abort(new Error('client disconnected'));
    };
    // The client may have gone while its session was being looked up.
    if (res.destroyed || res.socket?.destroyed) return;
    this.direct.set(id, controller);
    res.once('close', onClose);
    const emit = (message: JSONRPCMessage): Promise<void> => {
      if (controller.signal.aborted) return Promise.resolve();
      writer ??= this.openStream(res);
      return writer.write(message);
    };
    let response: JSONRPCMessage;
    try {
      response = { jsonrpc: '2.0', id, result: (await work(controller.signal, emit)) as Record<string, unknown> };
    } catch (error) {
      const rpc = error instanceof RpcError ? error : new RpcError(RPC.InternalError, 'Internal error');
      const data = rpc.data !== undefined ? { data: rpc.data } : {};
      response = { jsonrpc: '2.0', id, error: { code: rpc.code, message: rpc.message, ...data } };
    } finally {
      if (this.direct.get(id) === controller) this.direct.delete(id);
      res.off('close', onClose);
    }
    // A cancelled request gets no response message (MCP), but its HTTP exchange still ends.
    if (writer) {
      if (!controller.signal.aborted) await writer.write(response);
      await writer.end();
      return;
    }
    if (res.destroyed || res.writableEnded) return;
    if (controller.signal.aborted) res.writeHead(200, SSE_HEADERS).end();
    else res.writeHead(200, { 'Content-Type': 'application/json' }).end(JSON.stringify(response));
  }

  /** True while the request `id` of this session is being answered here. */
  runs(id: RequestId): boolean {
    return this.direct.has(id) || this.exchanges.has(id);
  }

  /** A `notifications/cancelled` that reached another replica: stops the request if it runs here. */
  cancel(requestId: RequestId, reason: string | undefined): void {
    this.direct.get(requestId)?.abort(new Error(reason ?? 'cancelled by the client'));
    this.onmessage?.({ jsonrpc: '2.0', method: 'notifications/cancelled', params: { requestId, reason } });
  }

  /** Feeds the messages of one POST to the SDK and answers on `res` (202 when none is a request). */
  handlePost(res: ServerResponse, messages: JSONRPCMessage[], batch: boolean, options: PostOptions = {}): void {
    for (const message of messages) {
      if (isJSONRPCNotification(message) && message.method === 'notifications/cancelled') {
        const requestId = (message.params as { requestId?: RequestId } | undefined)?.requestId;
        if (requestId !== undefined) this.direct.get(requestId)?.abort(new Error('cancelled by the client'));
      }
    }
    const ids = messages.filter(isJSONRPCRequest).map((request) => request.id);
    if (ids.length === 0) {
      res.writeHead(202, options.headers).end();
    } else {
      const exchange = new HttpExchange(
        res,
        ids,
        batch,
        options.headers ?? {},
        options.beforeFirstWrite,
        this.openStream,
        () => {
          for (const id of ids) this.exchanges.delete(id);
        },
      );
      for (const id of ids) this.exchanges.set(id, exchange);
      res.on('close', () => {
        // Unanswered, or streaming: the rest is stored for the client to resume.
        if (exchange.ids.length === 0 || exchange.streaming) return;
        // The client went away: stop the work it was waiting for.
        exchange.markClosed();
        for (const id of exchange.ids) {
          this.exchanges.delete(id);
          this.onmessage?.({
            jsonrpc: '2.0',
            method: 'notifications/cancelled',
            params: { requestId: id, reason: 'client disconnected' },
          });
        }
      });
    }
    for (const message of messages) this.onmessage?.(message, options.extra);
  }

  /** Replays a request into the SDK and waits for (then drops) its response. */
  replay(message: JSONRPCMessage): Promise<void> {
    return new Promise((resolve) => {
      if (isJSONRPCRequest(message)) this.exchanges.set(message.id, new ReplayExchange(resolve));
      this.onmessage?.(message);
      if (!isJSONRPCRequest(message)) resolve();
    });
  }

  /**
   * Opens the session's stream for messages not tied to a request (headers written unless a resume already
   * did); false when one is already open here.
   */
  attachStream(res: ServerResponse): boolean {
    if (this.standalone) return false;
    const writer = this.events.open(res, this.sessionId, GET_STREAM);
    this.standalone = { res, writer };
    res.on('close', () => {
      if (this.standalone?.res === res) this.standalone = undefined;
    });
    return true;
  }

  get hasStream(): boolean {
    return this.standalone !== undefined;
  }

  async send(message: JSONRPCMessage, options?: TransportSendOptions): Promise<void> {
    if (this.closed) return;
    if (isJSONRPCResultResponse(message) || isJSONRPCErrorResponse(message)) {
      const id = (message as { id: RequestId }).id;
      const exchange = this.exchanges.get(id);
      this.exchanges.delete(id);
      await exchange?.deliver(message, true);
      return;
    }
    const related = options?.relatedRequestId;
    const exchange = related !== undefined ? this.exchanges.get(related) : undefined;
    if (exchange) {
      await exchange.deliver(message, false);
      return;
    }
    await this.standalone?.writer.write(message);
  }

  /** Ends the stream for messages not tied to a request; the client opens a new one (on any replica). */
  endStream(): void {
    if (!this.standalone) return;
    this.standalone.writer.stop();
    this.standalone.res.end();
    this.standalone = undefined;
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    // The session is gone everywhere: nobody can receive what its running calls would answer.
    for (const controller of this.direct.values()) controller.abort(new Error('session closed'));
    this.endStream();
    this.exchanges.clear();
    this.onclose?.();
  }
}
