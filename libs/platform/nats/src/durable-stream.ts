import {
  AckPolicy,
  DeliverPolicy,
  DiscardPolicy,
  RetentionPolicy,
  StorageType,
  headers as natsHeaders,
  nanos,
  type Consumer,
  type ConsumerConfig,
  type JsMsg,
  type NatsError,
  type StreamConfig,
} from 'nats';
import { retrying, type JetStreamContext } from './jetstream-context';
import { JetStreamApiCode, isClosed, isTransient, jetStreamApiCode } from './nats-failures';
import { StreamFullError } from './nats.errors';
import { ensureStream } from './stream-setup';

export interface DurableStreamOptions {
  subjects: string[];
  /**
   * `workqueue`: a message is removed once a consumer acknowledges it (each message is work for one taker);
   * `limits`: messages stay until the limits below remove the oldest.
   */
  retention: 'workqueue' | 'limits';
  /** Oldest message kept. */
  maxAgeMs: number;
  /** Bytes kept at most (-1: no bound); when full, new messages are refused (nothing accepted is dropped). */
  maxBytes?: number;
  /** Messages kept at most (-1: no bound); when full, new messages are refused. */
  maxMessages?: number;
  /** Window in which a second publish with the same `msgId` is recognised and stored once (default 2 min). */
  duplicateWindowMs?: number;
}

export interface DurablePublishOptions {
  /** Idempotency of the publish: a second one with this id within the duplicate window is not stored again. */
  msgId?: string;
  headers?: Record<string, string>;
  /** How long to wait for the stream's acknowledgement (default 5 s). */
  timeoutMs?: number;
}

export interface DurableConsumerOptions {
  /** Durable name: every process opening the same name shares the consumer (each message goes to one). */
  name: string;
  /** Only the messages of this subject (wildcards allowed); default every subject of the stream. */
  filterSubject?: string;
  /** A message not acknowledged (nor marked `working`) within this time is delivered again. */
  ackWaitMs: number;
  /** Deliveries of one message at most (-1: no bound). */
  maxDeliver?: number;
  /** Messages delivered and not yet acknowledged, over every process of the consumer (default 1,000). */
  maxAckPending?: number;
}

/** One delivered message of a durable consumer. */
export interface DurableMessage {
  readonly subject: string;
  readonly data: Uint8Array;
  /** The stream sequence: the message's identity in the stream. */
  readonly seq: number;
  /** 1 on the first delivery, 2 on the first redelivery… */
  readonly deliveryCount: number;
  header(name: string): string | undefined;
  /** Done with it: it is not delivered again (and, on a work queue, removed). */
  ack(): void;
  /** Done with it, waiting until the server has recorded the acknowledgement. */
  ackConfirmed(): Promise<void>;
  /** Not done: deliver it again, after `delayMs`. */
  retry(delayMs?: number): void;
  /** Still working on it: restarts the acknowledgement timer. */
  working(): void;
  /** Never deliver it again. */
  drop(reason?: string): void;
}

/**
 * A JetStream stream whose messages outlive every process: publishes are acknowledged by the server (and
 * deduplicated by id), and durable consumers shared by any number of processes deliver each message until
 * it is acknowledged. Used for work queues (tasks) and event logs (audit).
 */
export class DurableStream {
  private constructor(
    readonly name: string,
    private readonly context: JetStreamContext,
  ) {}

  /** Opens stream `name`, creating it or updating its settings (and replicas) to `options`. */
  static async open(context: JetStreamContext, name: string, options: DurableStreamOptions): Promise<DurableStream> {
    const config: Partial<StreamConfig> = {
      subjects: options.subjects,
      retention: options.retention === 'workqueue' ? RetentionPolicy.Workqueue : RetentionPolicy.Limits,
      storage: StorageType.File,
      discard: DiscardPolicy.New,
      max_age: nanos(options.maxAgeMs),
      max_bytes: options.maxBytes ?? -1,
      max_msgs: options.maxMessages ?? -1,
      duplicate_window: nanos(Math.min(options.duplicateWindowMs ?? 120_000, options.maxAgeMs)),
    };
    await ensureStream(context, name, config, () =>
      context.jsm.streams.add({ name, ...config, num_replicas: context.replicas }),
    );
    return new DurableStream(name, context);
  }

  /**
   * Publishes and waits for the stream to have stored the message; resolves with its sequence and whether it
   * was a duplicate of an earlier publish with the same `msgId`. Fails when the stream refuses it (full).
   */
  async publish(
    subject: string,
    data: Uint8Array,
    options: DurablePublishOptions = {},
  ): Promise<{ seq: number; duplicate: boolean }> {
    const js = this.context.connection.jetstream();
    try {
      const ack = await js.publish(subject, data, {
        ...(options.msgId ? { msgID: options.msgId } : {}),
        ...(options.headers ? { headers: toMsgHeaders(options.headers) } : {}),
        timeout: options.timeoutMs ?? 5_000,
      });
      return { seq: ack.seq, duplicate: ack.duplicate };
    } catch (error) {
      if (jetStreamApiCode(error) === JetStreamApiCode.StreamStoreFailed) {
        const reason = (error as NatsError).api_error?.description ?? 'full';
        throw new StreamFullError(this.name, reason, { cause: error });
      }
      throw error;
    }
  }

  /** Opens (creating or updating) a durable pull consumer of this stream. */
  async consumer(options: DurableConsumerOptions): Promise<DurableConsumer> {
    const config: Partial<ConsumerConfig> = {
      durable_name: options.name,
      ack_policy: AckPolicy.Explicit,
      deliver_policy: DeliverPolicy.All,
      ack_wait: nanos(options.ackWaitMs),
      max_deliver: options.maxDeliver ?? -1,
      max_ack_pending: options.maxAckPending ?? 1_000,
      ...(options.filterSubject ? { filter_subject: options.filterSubject } : {}),
    };
    await retrying(this.context, async () => {
      try {
        await this.context.jsm.consumers.info(this.name, options.name);
        await this.context.jsm.consumers.update(this.name, options.name, config);
      } catch (error) {
        if (jetStreamApiCode(error) !== JetStreamApiCode.ConsumerNotFound) throw error;
        await this.context.jsm.consumers.add(this.name, config);
      }
    });
    const consumer = await retrying(this.context, () =>
      this.context.connection.jetstream().consumers.get(this.name, options.name),
    );
    return new DurableConsumer(consumer, this.context);
  }

  /** Messages stored now (for readiness and tests). */
  async messageCount(): Promise<number> {
    const info = await retrying(this.context, () => this.context.jsm.streams.info(this.name));
    return info.state.messages;
  }
}

/** A durable pull consumer: `fetch` takes the next messages delivered to this process. */
export class DurableConsumer {
  constructor(
    private readonly consumer: Consumer,
    private readonly context: JetStreamContext,
  ) {}

  /**
   * Up to `max` messages, waiting at most `waitMs` for the first; an empty list when none came (or the
   * connection is down: the caller simply asks again).
   */
  async fetch(max: number, waitMs: number): Promise<DurableMessage[]> {
    if (this.context.isClosed()) return [];
    const messages: DurableMessage[] = [];
    try {
      const batch = await this.consumer.fetch({ max_messages: max, expires: Math.max(waitMs, 1_000) });
      for await (const msg of batch) messages.push(wrap(msg));
    } catch (error) {
      if (!isTransient(error) && !isClosed(error)) throw error;
    }
    return messages;
  }
}

function toMsgHeaders(values: Record<string, string>) {
  const headers = natsHeaders();
  for (const [name, value] of Object.entries(values)) headers.set(name, value);
  return headers;
}

function wrap(msg: JsMsg): DurableMessage {
  return {
    subject: msg.subject,
    data: msg.data,
    seq: msg.seq,
    deliveryCount: msg.info.redeliveryCount,
    header: (name) => msg.headers?.get(name) || undefined,
    ack: () => msg.ack(),
    ackConfirmed: async () => {
      await msg.ackAck();
    },
    retry: (delayMs) => msg.nak(delayMs),
    working: () => msg.working(),
    drop: (reason) => msg.term(reason),
  };
}
