import {
  connect,
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

/** The one NATS connection of a process, with the JSON request/reply, pub/sub and KV verbs the fabric uses. */
export class NatsClient {
  private connected = true;

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
    this.connection.publish(subject, encodeJson(value), { headers: toHeaders(headers) });
  }

  /** Sends a JSON request and returns the parsed JSON reply. */
  async requestJson(subject: string, value: unknown, options: RequestOptions): Promise<unknown> {
    return decodeJson((await this.request(subject, encodeJson(value), options)).data);
  }

  /** Sends a request; fails at once with `NoRespondersError` when nobody listens, `RequestTimeoutError` on timeout. */
  async request(subject: string, data: Uint8Array, options: RequestOptions): Promise<Msg> {
    try {
      return await this.connection.request(subject, data, {
        timeout: Math.max(1, Math.floor(options.timeoutMs)),
        headers: toHeaders(options.headers),
      });
    } catch (error) {
      if (isNatsError(error) && error.code === ErrorCode.NoResponders) throw new NoRespondersError(subject, { cause: error });
      if (isNatsError(error) && error.code === ErrorCode.Timeout) {
        throw new RequestTimeoutError(subject, options.timeoutMs, { cause: error });
      }
      throw error;
    }
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
    if (this.connection.isClosed() || this.connection.isDraining()) return this.connection.closed().then(() => undefined);
    await this.connection.drain();
  }

  async close(): Promise<void> {
    if (!this.connection.isClosed()) await this.connection.close();
  }
}
