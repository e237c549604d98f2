import {
  connect,
  createInbox,
  Events,
  headers as natsHeaders,
  nanos,
  type JetStreamManager,
  type Msg,
  type MsgHdrs,
  type NatsConnection,
  type Subscription,
} from 'nats';
import { DurableStream, type DurableStreamOptions } from './durable-stream';
import { KvBucket } from './kv-bucket';
import { NatsClosedError, NatsUnreachableError, NoRespondersError, RequestTimeoutError } from './nats.errors';
import type { JetStreamContext } from './jetstream-context';
import { retryTransient } from './nats-failures';
import { RetainedStream } from './retained-stream';
import { ensureStream } from './stream-setup';

export interface NatsClientOptions {
  /** One server or several, comma-separated (any cluster member will do: the client learns the others). */
  url: string;
  /** Connection name shown by the NATS server (`app@host/pid`). */
  name: string;
  /** Replicas of every stream and KV bucket this client creates (`JETSTREAM_REPLICAS`); default 1. */
  jetstreamReplicas?: number;
  /** How long JetStream operations retry transient failures (reconnects, leader elections); default 10 s. */
  jetstreamRetryMs?: number;
  /** Called for connection state changes worth logging. */
  onStatus?: (event: { type: string; data?: unknown }) => void;
  /** Called with one-line notices worth logging (a stream's replica count changed). */
  onNotice?: (message: string) => void;
}

export interface KvBucketOptions {
  /** Revisions kept per key; default 1. */
  history?: number;
  /** A key not written for this long expires (the bucket's `max_age`); default never. */
  ttlMs?: number;
}

export interface RequestOptions {
  timeoutMs: number;
  headers?: Record<string, string>;
}

export interface RequestManyOptions {
  /** The longest the replies are gathered. */
  maxWaitMs: number;
  /** Stop this long after the last reply (none: wait for `until` or `maxWaitMs`). */
  stallMs?: number;
  /** Stop as soon as this says the replies gathered so far are all that is needed. */
  until?: (replies: readonly unknown[]) => boolean;
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

/**
 * Messages held while the connection is down, beyond which they are handed to nats.js (which drops them) so
 * that a long outage cannot fill the memory: requests among them then time out.
 */
const MAX_HELD = 10_000;

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

/**
 * The one NATS connection of a process, with the JSON request/reply, pub/sub and KV verbs the fabric uses.
 *
 * Publishes and requests go through an outbox written once per event-loop turn (`setImmediate`). nats.js
 * writes to its socket on a microtask after the first message, which under load means one write per HTTP
 * request served (each arrives in its own I/O callback): that write, waking the NATS server, cost more CPU
 * than everything else a gateway does for a call. Batched, N calls in a turn cost one write. Requests use
 * one wildcard inbox subscription of the client's own (no per-request objects, timers of nats.js or
 * `NatsError`s built for requests that succeeded). Messages keep their order: everything sent through
 * this client leaves in the order it was given. While the connection is down the outbox holds them: nats.js
 * discards what it buffered when it reconnects, so a message given to it then would be lost.
 */
export class NatsClient {
  private connected = true;
  /** Set by `drain`/`close`: nothing is held for a reconnect any more. */
  private closing = false;
  private outbox: Outgoing[] = [];
  private flushScheduled = false;
  private inbox?: string;
  private inboxSubscription?: Subscription;
  private readonly pending = new Map<string, PendingRequest>();
  private nextToken = 0;
  private readonly reconnectListeners = new Set<() => void>();
  private connectedWaiters: (() => void)[] = [];
  private manager?: Promise<JetStreamManager>;

  private constructor(
    readonly connection: NatsConnection,
    private readonly options: NatsClientOptions,
  ) {}

  /** Connects, failing fast with `NatsUnreachableError` when no server answers; reconnects forever afterwards. */
  static async connect(options: NatsClientOptions): Promise<NatsClient> {
    let connection: NatsConnection;
    try {
      connection = await connect({
        servers: options.url
          .split(',')
          .map((server) => server.trim())
          .filter(Boolean),
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
    const client = new NatsClient(connection, options);
    client.watchStatus();
    void connection.closed().then(() => client.wakeConnectedWaiters());
    return client;
  }

  private watchStatus(): void {
    void (async () => {
      for await (const status of this.connection.status()) {
        if (status.type === Events.Disconnect) this.connected = false;
        if (status.type === Events.Reconnect) {
          this.connected = true;
          this.scheduleFlush();
          this.wakeConnectedWaiters();
          for (const listener of this.reconnectListeners) listener();
        }
        if (status.type === Events.Disconnect || status.type === Events.Reconnect || status.type === Events.Error) {
          this.options.onStatus?.({ type: status.type, data: status.data });
        }
      }
    })();
  }

  private wakeConnectedWaiters(): void {
    const waiters = this.connectedWaiters;
    this.connectedWaiters = [];
    for (const wake of waiters) wake();
  }

  /** Resolves once the connection is up: at once when it is, after the reconnect when it is down. */
  private whenConnected(): Promise<void> {
    if (this.connected || this.connection.isClosed()) return Promise.resolve();
    return new Promise((resolve) => this.connectedWaiters.push(resolve));
  }

  /**
   * Waits at most `timeoutMs` for the connection to be up; true when it is (at once when it already is).
   * A client of a cluster whose server died is usually back on another within a fraction of a second.
   */
  async waitConnected(timeoutMs: number): Promise<boolean> {
    if (this.isConnected()) return true;
    if (this.connection.isClosed() || timeoutMs <= 0) return false;
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([this.whenConnected(), new Promise((resolve) => (timer = setTimeout(resolve, timeoutMs)))]);
    clearTimeout(timer);
    return this.isConnected();
  }

  /** Calls `listener` each time the connection is back after a loss; returns the function that removes it. */
  onReconnect(listener: () => void): () => void {
    this.reconnectListeners.add(listener);
    return () => this.reconnectListeners.delete(listener);
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
    this.scheduleFlush();
  }

  private scheduleFlush(): void {
    if (this.flushScheduled || this.outbox.length === 0) return;
    this.flushScheduled = true;
    setImmediate(this.flushOutbox);
  }

  /** Hands the turn's messages to nats.js, which writes them to its socket in one go on its next microtask. */
  private readonly flushOutbox = (): void => {
    this.flushScheduled = false;
    // Held until the reconnect (see the class comment); closing hands them over to be failed.
    if (!this.connected && !this.closing && this.outbox.length <= MAX_HELD) return;
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

  /**
   * Sends one request and collects the replies until `until(replies)` says it has them all, replies stall for
   * `stallMs` after the last one, or `maxWaitMs` passes; nobody listening gives no replies.
   */
  requestManyJson(subject: string, value: unknown, options: RequestManyOptions): Promise<unknown[]> {
    const replies: unknown[] = [];
    if (options.until?.(replies)) return Promise.resolve(replies);
    return new Promise<unknown[]>((resolve) => {
      let stallTimer: NodeJS.Timeout | undefined;
      const finish = () => {
        clearTimeout(overall);
        clearTimeout(stallTimer);
        subscription.unsubscribe();
        resolve(replies);
      };
      const overall = setTimeout(finish, Math.max(1, Math.floor(options.maxWaitMs)));
      const inbox = createInbox();
      const subscription = this.connection.subscribe(inbox, {
        callback: (error, msg) => {
          if (error) return finish();
          // No payload and status 503: the server says nobody subscribes to the subject.
          if (msg.data.length === 0) return msg.headers?.code === 503 ? finish() : undefined;
          try {
            replies.push(decodeJson(msg.data));
          } catch {
            return; // a malformed reply is one instance's problem, not this caller's
          }
          if (options.until?.(replies)) return finish();
          if (options.stallMs !== undefined) {
            clearTimeout(stallTimer);
            stallTimer = setTimeout(finish, options.stallMs);
          }
        },
      });
      this.enqueue({ subject, data: encodeJson(value), reply: inbox, failed: finish });
    });
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

  /**
   * Opens a JetStream key-value bucket, creating it when missing and bringing an existing one to these
   * settings and this client's replica count. Fails with `JetStreamReplicasError` when the servers cannot
   * hold that many replicas.
   */
  async keyValue(bucket: string, options: KvBucketOptions = {}): Promise<KvBucket> {
    const setup = await this.jetStreamContext();
    // Unset options stay out: nats.js would take an undefined `history` over its default of 1.
    const kvOptions = {
      replicas: setup.replicas,
      ...(options.history === undefined ? {} : { history: options.history }),
      ...(options.ttlMs === undefined ? {} : { ttl: options.ttlMs }),
    };
    const open = () => this.connection.jetstream().views.kv(bucket, kvOptions);
    await ensureStream(
      setup,
      `KV_${bucket}`,
      {
        ...(options.history === undefined ? {} : { max_msgs_per_subject: options.history }),
        ...(options.ttlMs === undefined ? {} : { max_age: nanos(options.ttlMs) }),
      },
      open,
    );
    return new KvBucket(bucket, await open(), setup);
  }

  /** Opens a stream that keeps what is published on `subjects` for `maxAgeMs` (see `RetainedStream`). */
  async retainedStream(name: string, subjects: string[], maxAgeMs: number): Promise<RetainedStream> {
    return RetainedStream.open(await this.jetStreamContext(), name, subjects, maxAgeMs);
  }

  /** Opens a stream whose messages outlive every process, with durable consumers (see `DurableStream`). */
  async durableStream(name: string, options: DurableStreamOptions): Promise<DurableStream> {
    return DurableStream.open(await this.jetStreamContext(), name, options);
  }

  private async jetStreamContext(): Promise<JetStreamContext> {
    const retryMs = this.options.jetstreamRetryMs ?? 10_000;
    this.manager ??= retryTransient(() => this.connection.jetstreamManager(), retryMs).catch((error: unknown) => {
      this.manager = undefined;
      throw error;
    });
    return {
      connection: this.connection,
      jsm: await this.manager,
      replicas: this.options.jetstreamReplicas ?? 1,
      retryMs,
      notice: (message) => this.options.onNotice?.(message),
      connected: () => this.whenConnected(),
      onReconnect: (listener) => this.onReconnect(listener),
      isClosed: () => this.closing || this.connection.isClosed() || this.connection.isDraining(),
    };
  }

  /** Measures one round trip to the server, in milliseconds. */
  async rtt(): Promise<number> {
    return this.connection.rtt();
  }

  /** Flushes pending messages and closes after every subscription has drained. */
  async drain(): Promise<void> {
    this.closing = true;
    this.flushOutbox();
    if (this.connection.isClosed() || this.connection.isDraining())
      return this.connection.closed().then(() => undefined);
    await this.connection.drain();
    this.failPending();
  }

  /** Sends what is queued (briefly waiting for the server to have it), then closes. */
  async close(): Promise<void> {
    this.closing = true;
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
    for (const token of [...this.pending.keys()]) this.settle(token, undefined, new NatsClosedError());
  }
}
