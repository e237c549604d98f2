import type { DirectStreamAPI } from 'nats/lib/jetstream/types';
import {
  DiscardPolicy,
  StorageType,
  nanos,
  type JetStreamClient,
  type JetStreamManager,
  type NatsConnection,
  type StreamConfig,
} from 'nats';

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
    private readonly jsm: JetStreamManager,
  ) {}

  /** Creates the stream, or brings an existing one to this configuration. */
  static async open(
    connection: NatsConnection,
    name: string,
    subjects: string[],
    maxAgeMs: number,
  ): Promise<RetainedStream> {
    const jsm = await connection.jetstreamManager();
    const config: Partial<StreamConfig> & { name: string } = {
      name,
      subjects,
      max_age: nanos(maxAgeMs),
      // No message ids are used; a window above a later, shorter max_age would make the update fail.
      duplicate_window: nanos(Math.min(maxAgeMs, 1_000)),
      storage: StorageType.File,
      discard: DiscardPolicy.Old,
      allow_direct: true,
    };
    try {
      await jsm.streams.add(config);
    } catch {
      await jsm.streams.update(name, config);
    }
    return new RetainedStream(name, connection.jetstream(), jsm);
  }

  /** Stores `data` on `subject`; resolves with its sequence once the server has it. */
  async append(subject: string, data: Uint8Array): Promise<number> {
    return (await this.js.publish(subject, data)).seq;
  }

  /** The first message on `subject` at or after sequence `from`, or undefined when there is none (yet). */
  async next(subject: string, from: number): Promise<RetainedMessage | undefined> {
    try {
      // The manager implementation has the direct API; nats 2.x only leaves it out of the interface.
      const direct = (this.jsm as JetStreamManager & { direct: DirectStreamAPI }).direct;
      const stored = await direct.getMessage(this.name, { seq: from, next_by_subj: subject });
      return { seq: stored.seq, data: stored.data };
    } catch (error) {
      if ((error as { code?: string }).code === '404') return undefined;
      throw error;
    }
  }
}
