import type { ServerResponse } from 'node:http';
import type { Transport, TransportSendOptions } from '@modelcontextprotocol/sdk/shared/transport.js';
import {
  isJSONRPCErrorResponse,
  isJSONRPCRequest,
  isJSONRPCResultResponse,
  type JSONRPCMessage,
  type MessageExtraInfo,
  type RequestId,
} from '@modelcontextprotocol/sdk/types.js';
import { randomBytes } from 'node:crypto';
import type { HttpRejection } from '../../http/http-rejection';
import type { SseWriter } from '../../http/sse';
import { GET_STREAM, type EventLog } from './event-log';

/** Where the messages answering one POST go. */
interface Exchange {
  deliver(message: JSONRPCMessage, isResponse: boolean): Promise<void>;
}

/** Opens a resumable SSE stream on a response (see `EventLog`). */
type OpenStream = (res: ServerResponse) => SseWriter<JSONRPCMessage>;

/**
 * The answer to one POST: plain JSON when the requests produce only their responses, SSE as soon as a
 * request emits a notification or a server-to-client request before its response.
 */
class HttpExchange implements Exchange {
  private readonly pending: Set<RequestId>;
  /** The refusal of the one request of a POST, answered as its HTTP status (403 step-up) instead of 200. */
  private refusal?: HttpRejection;
  private readonly buffered: JSONRPCMessage[] = [];
  private writer?: SseWriter<JSONRPCMessage>;
  private closed = false;

  constructor(
    private readonly res: ServerResponse,
    ids: RequestId[],
    private readonly batch: boolean,
    private readonly openStream: OpenStream,
    private readonly onDone: (ids: RequestId[]) => void,
    private readonly refusalOf?: PostOptions['refusal'],
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

  /** Answers a lone request's error response with its refusal's status and headers, unless streaming already. */
  refuse(requestId: RequestId, scopes: string[]): void {
    if (!this.batch && !this.writer && this.refusalOf) this.refusal = this.refusalOf(requestId, scopes);
  }

  async deliver(message: JSONRPCMessage, isResponse: boolean): Promise<void> {
    if (this.closed) return;
    if (isResponse) this.pending.delete((message as { id: RequestId }).id);
    const done = this.pending.size === 0;
    if (!this.writer && !isResponse) this.startStream();
    if (this.writer) {
      const writer = this.writer;
      void writer.write(message);
      if (done) this.finish(() => void writer.end());
      return;
    }
    this.buffered.push(message);
    if (!done) return;
    const body = JSON.stringify(this.batch ? this.buffered : this.buffered[0]);
    const refusal = this.refusal;
    this.finish(() => {
      if (refusal && isJSONRPCErrorResponse(message))
        this.res.writeHead(refusal.status, { ...refusal.headers, 'Content-Type': 'application/json' }).end(body);
      else this.res.writeHead(200, { 'Content-Type': 'application/json' }).end(body);
    });
  }

  private startStream(): void {
    this.writer = this.openStream(this.res);
    for (const message of this.buffered.splice(0)) void this.writer.write(message);
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
  /** HTTP request details handed to the SDK's handlers. */
  extra?: MessageExtraInfo;
  /** The client went away before the requests of the POST were answered (and nothing streams them). */
  onAbandoned?: (ids: RequestId[]) => void;
  /** The HTTP answer to a request refused for want of scopes (see `SessionTransport.refuse`). */
  refusal?: (requestId: RequestId, scopes: string[]) => HttpRejection;
}

/**
 * An SDK `Transport` for one session on this replica. It holds no session state of its own (that is in
 * the session store): it only routes the SDK's outgoing messages to the HTTP responses of this replica.
 */
export class SessionTransport implements Transport {
  onmessage?: (message: JSONRPCMessage, extra?: MessageExtraInfo) => void;
  onclose?: () => void;
  onerror?: (error: Error) => void;
  /** Called when the SDK server answers a request (the request no longer runs here). */
  onAnswered?: (id: RequestId) => void;

  private readonly exchanges = new Map<RequestId, Exchange>();
  private standalone?: { res: ServerResponse; writer: SseWriter<JSONRPCMessage> };
  private closed = false;
  private readonly openStream: OpenStream;

  constructor(
    readonly sessionId: string,
    private readonly events: EventLog,
  ) {
    this.openStream = (res) => events.open(res, sessionId, randomBytes(4).toString('hex'));
  }

  async start(): Promise<void> {
    // Nothing to open: HTTP requests arrive through handlePost/attachStream.
  }

  /** Feeds the messages of one POST to the SDK and answers on `res` (202 when none is a request). */
  handlePost(res: ServerResponse, messages: JSONRPCMessage[], batch: boolean, options: PostOptions = {}): void {
    const ids = messages.filter(isJSONRPCRequest).map((request) => request.id);
    if (ids.length === 0) {
      res.writeHead(202).end();
    } else {
      const exchange = new HttpExchange(
        res,
        ids,
        batch,
        this.openStream,
        () => {
          for (const id of ids) this.exchanges.delete(id);
        },
        options.refusal,
      );
      for (const id of ids) this.exchanges.set(id, exchange);
      res.on('close', () => {
        // Unanswered, or streaming: the rest is stored for the client to resume.
        if (exchange.ids.length === 0 || exchange.streaming) return;
        // The client went away: the work it was waiting for is to be stopped.
        exchange.markClosed();
        const abandoned = exchange.ids;
        for (const id of abandoned) this.exchanges.delete(id);
        options.onAbandoned?.(abandoned);
      });
    }
    for (const message of messages) this.onmessage?.(message, options.extra);
  }

  /**
   * Marks a request as refused for want of `scopes` (before the SDK answers it with an error): a POST that
   * carried only it is answered with the HTTP 403 step-up challenge rather than 200.
   */
  refuse(requestId: RequestId, scopes: string[]): void {
    const exchange = this.exchanges.get(requestId);
    if (exchange instanceof HttpExchange) exchange.refuse(requestId, scopes);
  }

  /** Hands a message to the SDK server outside any POST (a cancellation forwarded by another replica). */
  receive(message: JSONRPCMessage): void {
    this.onmessage?.(message);
  }

  /** True while a request of this session is answered here or its stream is open here. */
  get busy(): boolean {
    return this.standalone !== undefined || this.exchanges.size > 0;
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
      this.onAnswered?.(id);
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
    this.endStream();
    this.exchanges.clear();
    this.onclose?.();
  }
}
