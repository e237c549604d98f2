import { randomUUID } from 'node:crypto';
import type { DirectStreamAPI } from 'nats/lib/jetstream/types';
import {
  DiscardPolicy,
  StorageType,
  nanos,
  type JetStreamClient,
  type JetStreamManager,
  type StreamConfig,
} from 'nats';
import { retrying, type JetStreamContext } from './jetstream-context';
import { isNoMessage } from './nats-failures';
import { ensureStream } from './stream-setup';

/** A stored message: its sequence in the stream and its payload. */
export interface RetainedMessage {
  seq: number;
  data: Uint8Array;
}

/**
 * A JetStream stream that keeps what is published on its subjects for a bounded time and reads it back by
 * subject and sequence (direct get: no consumer to create or clean up), e.g. to resume an SSE stream.
 */
export class RetainedStream {
  private constructor(
    readonly name: string,
    private readonly js: JetStreamClient,
    private readonly direct: DirectStreamAPI,
    private readonly context: JetStreamContext,
  ) {}

  /** Creates the stream, or brings an existing one to this configuration (see `NatsClient.retainedStream`). */
  static async open(
    setup: JetStreamContext,
    name: string,
    subjects: string[],
    maxAgeMs: number,
  ): Promise<RetainedStream> {
    const config: Partial<StreamConfig> & { name: string } = {
      name,
      subjects,
      max_age: nanos(maxAgeMs),
      // Appends retried after a timeout carry the same message id: the window covers the retries. It stays
      // within max_age, or a later, shorter max_age would make the update fail.
      duplicate_window: nanos(Math.min(maxAgeMs, 2 * setup.retryMs)),
      storage: StorageType.File,
      discard: DiscardPolicy.Old,
      allow_direct: true,
    };
    await ensureStream(setup, name, config, () => setup.jsm.streams.add({ ...config, num_replicas: setup.replicas }));
    // The manager implementation has the direct API; nats 2.x only leaves it out of the interface.
    const direct = (setup.jsm as JetStreamManager & { direct: DirectStreamAPI }).direct;
    return new RetainedStream(name, setup.connection.jetstream(), direct, setup);
  }

  /** Stores `data` on `subject` once (retries are deduplicated); resolves with its sequence once the server has it. */
  async append(subject: string, data: Uint8Array): Promise<number> {
    const msgID = randomUUID();
    return retrying(this.context, async () => (await this.js.publish(subject, data, { msgID })).seq);
  }

  /** The first message on `subject` at or after sequence `from`, or undefined when there is none (yet). */
  async next(subject: string, from: number): Promise<RetainedMessage | undefined> {
    return retrying(this.context, async () => {
      try {
        const stored = await this.direct.getMessage(this.name, { seq: from, next_by_subj: subject });
        return { seq: stored.seq, data: stored.data };
      } catch (error) {
        if (isNoMessage(error)) return undefined;
        throw error;
      }
    });
  }
}
