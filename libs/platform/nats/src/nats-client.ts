import {
  connect,
  createInbox,
  Events,
  ErrorCode,
  headers as natsHeaders,
  RequestStrategy,
  type KV,
  type KvOptions,
  type Msg,
  type MsgHdrs,
  type NatsConnection,
  type NatsError,
  type Subscription,
} from 'nats';
import { NatsUnreachableError, NoRespondersError, RequestTimeoutError } from './nats.errors';

export interface NatsClientOptions {
  url: string;
  /** Connection name shown by the NATS server (`app@host/pid`). */
  name: string;
  /** Called for connection state changes worth logging. */
  onStatus?: (event: { type: string; data?: unknown }) => void;
}

export interface RequestOptions {
  timeoutMs: number;
  headers?: Record<string, string>;
}

export type MessageHandler = (msg: Msg) => void | Promise<void>;

/** A message waiting in the outbox for the end of the event-loop turn. */
interface Outgoing {
  subject: string;
  data: Uint8Array;
  reply?: string;
  headers?: MsgHdrs;
  /** Called when the message cannot be handed to the connection (closed). */
  failed?: (error: unknown) => void;
}

/** A request waiting for its reply on the client's inbox. */
interface PendingRequest {
  subject: string;
  resolve: (msg: Msg) => void;
  reject: (error: unknown) => void;
  timer: NodeJS.Timeout;
}

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** Serialises a value as the JSON bytes every fabric message carries. */
export function encodeJson(value: unknown): Uint8Array {
  return encoder.encode(JSON.stringify(value));
}

/** Parses the JSON bytes of a fabric message; throws `SyntaxError` on bad input. */
export function decodeJson(data: Uint8Array): unknown {
  return JSON.parse(decoder.decode(data));
}

/** Parses the JSON bytes of a message, or undefined when they are not JSON. */
export function tryDecodeJson(data: Uint8Array): unknown {
  try {
    return decodeJson(data);
  } catch {
    return undefined;
  }
}

/** Builds NATS headers from a plain record, or undefined when there is nothing to send. */
export function toHeaders(values: Record<string, string> | undefined): MsgHdrs | undefined {
  if (!values) return undefined;
  const entries = Object.entries(values).filter(([, value]) => value !== undefined && value !== '');
  if (entries.length === 0) return undefined;
  const hdrs = natsHeaders();
  for (const [key, value] of entries) hdrs.set(key, value);
  return hdrs;
}

/** Reads one header of a message, or undefined. */
export function headerOf(msg: Msg, name: string): string | undefined {
  const value = msg.headers?.get(name);
  return value ? value : undefined;
}

function isNatsError(error: unknown): error is NatsError {
  return typeof error === 'object' && error !== null && 'code' in error && error.constructor?.name === 'NatsError';
}

/**
 * The one NATS connection of a process, with the JSON request/reply, pub/sub and KV verbs the fabric uses.
 *
 * Publishes and requests go through an outbox written once per event-loop turn (`setImmediate`). nats.js
 * writes to its socket on a microtask after the first message, which under load means one write per HTTP
 * request served (each arrives in its own I/O callback): that write, waking the NATS server, cost more CPU
 * than everything else a gateway does for a call. Batched, N calls in a turn cost one write. Requests use
 * one wildcard inbox subscription of the client's own (no per-request objects, timers of nats.js or
 * `NatsError`s built for requests that succeeded). Messages keep their order: everything sent through
 * this client leaves in the order it was given.
 */
export class NatsClient {
  private connected = true;
  private outbox: Outgoing[] = [];
  private flushScheduled = false;
  private inbox?: string;
  private inboxSubscription?: Subscription;
  private readonly pending = new Map<string, PendingRequest>();
  private nextToken = 0;

  private constructor(readonly connection: NatsConnection) {}

  /** Connects, failing fast with `NatsUnreachableError` when no server answers; reconnects forever afterwards. */
  static async connect(options: NatsClientOptions): Promise<NatsClient> {
    let connection: NatsConnection;
    try {
      connection = await connect({
        servers: options.url.split(','),
        name: options.name,
        maxReconnectAttempts: -1,
        reconnectTimeWait: 250,
        pingInterval: 10_000,
        timeout: 3_000,
        // Capturing a stack for every request costs more CPU than the request itself on the hot path.
        noAsyncTraces: true,
      });
    } catch (error) {
      throw new NatsUnreachableError(options.url, { cause: error });
    }
    const client = new NatsClient(connection);
    client.watchStatus(options.onStatus);
    return client;
  }

  private watchStatus(onStatus: NatsClientOptions['onStatus']): void {
    void (async () => {
      for await (const status of this.connection.status()) {
        if (status.type === Events.Disconnect) this.connected = false;
        if (status.type === Events.Reconnect) this.connected = true;
        if (status.type === Events.Disconnect || status.type === Events.Reconnect || status.type === Events.Error) {
          onStatus?.({ type: status.type, data: status.data });
        }
      }
    })();
  }

  /** True while the connection is up (not closed, draining or reconnecting). */
  isConnected(): boolean {
    return this.connected && !this.connection.isClosed() && !this.connection.isDraining();
  }

  /** Publishes a JSON value (fire and forget). */
  publishJson(subject: string, value: unknown, headers?: Record<string, string>): void {
    this.publish(subject, encodeJson(value), { headers: toHeaders(headers) });
  }

  /** Publishes bytes at the end of this event-loop turn, in order with everything else sent through this client. */
  publish(subject: string, data: Uint8Array, options: { reply?: string; headers?: MsgHdrs } = {}): void {
    this.enqueue({ subject, data, reply: options.reply, headers: options.headers });
  }

  /** Answers a request message (nothing when it expects no reply). */
  respond(msg: Msg, data: Uint8Array): void {
    if (msg.reply) this.enqueue({ subject: msg.reply, data });
  }

  private enqueue(message: Outgoing): void {
    this.outbox.push(message);
    if (this.flushScheduled) return;
    this.flushScheduled = true;
    setImmediate(this.flushOutbox);
  }

  /** Hands the turn's messages to nats.js, which writes them to its socket in one go on its next microtask. */
  private readonly flushOutbox = (): void => {
    this.flushScheduled = false;
    const batch = this.outbox;
    this.outbox = [];
    for (const message of batch) {
      try {
        this.connection.publish(message.subject, message.data, { reply: message.reply, headers: message.headers });
      } catch (error) {
        // Closed (or a bad subject): nobody will read it.
        message.failed?.(error);
      }
    }
  };

  /** Sends a JSON request and returns the parsed JSON reply. */
  async requestJson(subject: string, value: unknown, options: RequestOptions): Promise<unknown> {
    return decodeJson((await this.request(subject, encodeJson(value), options)).data);
  }

  /** Sends a request; fails at once with `NoRespondersError` when nobody listens, `RequestTimeoutError` on timeout. */
  request(subject: string, data: Uint8Array, options: RequestOptions): Promise<Msg> {
    const inbox = this.replyInbox();
    const token = (this.nextToken++).toString(36);
    const timeoutMs = Math.max(1, Math.floor(options.timeoutMs));
    return new Promise<Msg>((resolve, reject) => {
      const timer = setTimeout(() => {
        if (this.pending.delete(token)) reject(new RequestTimeoutError(subject, options.timeoutMs));
      }, timeoutMs);
      this.pending.set(token, { subject, resolve, reject, timer });
      this.enqueue({
        subject,
        data,
        reply: inbox + token,
        headers: toHeaders(options.headers),
        failed: (error) => this.settle(token, undefined, error),
      });
    });
  }

  /** The client's reply inbox (`_INBOX.<unique>.`), subscribed once with a wildcard on first use. */
  private replyInbox(): string {
    if (this.inbox) return this.inbox;
    const inbox = `${createInbox()}.`;
    this.inboxSubscription = this.connection.subscribe(`${inbox}*`, {
      callback: (error, msg) => {
        if (error) return;
        const token = msg.subject.slice(inbox.length);
        // No payload and status 503: the server says nobody subscribes to the subject.
        if (msg.data.length === 0 && msg.headers?.code === 503) {
          const request = this.pending.get(token);
          this.settle(token, undefined, request && new NoRespondersError(request.subject));
        } else {
          this.settle(token, msg);
        }
      },
    });
    this.inbox = inbox;
    return inbox;
  }

  private settle(token: string, msg: Msg | undefined, error?: unknown): void {
    const request = this.pending.get(token);
    if (!request) return; // timed out already, or a duplicate reply
    this.pending.delete(token);
    clearTimeout(request.timer);
    if (msg) request.resolve(msg);
    else request.reject(error);
  }

  /** Sends one request and collects every reply that arrives until replies stall or `maxWaitMs` passes. */
  async requestManyJson(subject: string, value: unknown, options: { maxWaitMs: number; stallMs: number }): Promise<unknown[]> {
    const replies: unknown[] = [];
    try {
      const iterator = await this.connection.requestMany(subject, encodeJson(value), {
        strategy: RequestStrategy.JitterTimer,
        maxWait: options.maxWaitMs,
        jitter: options.stallMs,
      });
      for await (const msg of iterator) {
        if (msg.data.length === 0) continue;
        try {
          replies.push(decodeJson(msg.data));
        } catch {
          // a malformed reply is one instance's problem, not this caller's
        }
      }
    } catch (error) {
      if (!(isNatsError(error) && error.code === ErrorCode.NoResponders)) throw error;
    }
    return replies;
  }

  /** Subscribes a handler; `queue` joins a queue group so that replicas share the messages. */
  subscribe(subject: string, handler: MessageHandler, options: { queue?: string } = {}): Subscription {
    return this.connection.subscribe(subject, {
      queue: options.queue,
      callback: (error, msg) => {
        if (error) return;
        void handler(msg);
      },
    });
  }

  /** Opens (creating when missing) a JetStream key-value bucket. */
  async keyValue(bucket: string, options: Partial<KvOptions> = {}): Promise<KV> {
    return this.connection.jetstream().views.kv(bucket, options);
  }

  /** Measures one round trip to the server, in milliseconds. */
  async rtt(): Promise<number> {
    return this.connection.rtt();
  }

  /** Flushes pending messages and closes after every subscription has drained. */
  async drain(): Promise<void> {
    this.flushOutbox();
    if (this.connection.isClosed() || this.connection.isDraining()) return this.connection.closed().then(() => undefined);
    await this.connection.drain();
    this.failPending();
  }

  /** Sends what is queued (briefly waiting for the server to have it), then closes. */
  async close(): Promise<void> {
    this.flushOutbox();
    if (this.isConnected()) {
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([
        this.connection.flush().catch(() => undefined),
        new Promise((resolve) => (timer = setTimeout(resolve, 1_000))),
      ]);
      clearTimeout(timer);
    }
    if (!this.connection.isClosed()) await this.connection.close();
    this.failPending();
  }

  /** Requests still waiting when the connection ends get no reply. */
  private failPending(): void {
    for (const token of [...this.pending.keys()]) this.settle(token, undefined, new Error('NATS connection closed'));
  }
}
