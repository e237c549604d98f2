import { setTimeout as delay } from 'node:timers/promises';
import { KvWatchInclude, type KV, type KvEntry as NatsKvEntry, type QueuedIterator } from 'nats';
import { retrying, type JetStreamContext } from './jetstream-context';
import { RevisionConflictError } from './nats.errors';
import { JetStreamApiCode, isClosed, isTransient, jetStreamApiCode } from './nats-failures';

/** One revision of a key: a value written (`PUT`), or a deletion (`DEL`, `PURGE`) seen by a watch. */
export interface KvEntry {
  key: string;
  value: Uint8Array;
  revision: number;
  operation: 'PUT' | 'DEL' | 'PURGE';
}

export interface KvWatchOptions {
  /** Every change after the watch started, in revision order (none is skipped across restarts). */
  onChange: (entry: KvEntry) => void;
  /** The watch broke (its consumer or connection went away) and is being opened again. */
  onInterrupted?: (error: unknown) => void;
  /** The watch is open again after an interruption. */
  onResumed?: () => void;
}

/** A running watch; `stop()` ends it for good. */
export interface KvWatch {
  stop(): void;
}

const WATCH_BACKOFF_MS = [100, 250, 500, 1_000, 2_000, 5_000];

/**
 * A JetStream key-value bucket with the verbs the fabric uses. Failures that pass by themselves (a
 * reconnect, a leader election) are retried for `retryMs`; a compare-and-set write that loses fails with
 * `RevisionConflictError`; a watch restarts by itself when its consumer or connection goes away.
 */
export class KvBucket {
  constructor(
    readonly name: string,
    private readonly kv: KV,
    private readonly context: JetStreamContext,
  ) {}

  /**
   * The key's current value, or undefined when it is missing or deleted. Read from the stream leader: a
   * direct read may be answered by a replica that has not caught up yet and miss a write just made.
   */
  async get(key: string): Promise<KvEntry | undefined> {
    return retrying(this.context, async () => {
      try {
        const stored = await this.context.jsm.streams.getMessage(`KV_${this.name}`, {
          last_by_subj: `$KV.${this.name}.${key}`,
        });
        const operation = (stored.header?.get('KV-Operation') || 'PUT') as KvEntry['operation'];
        return operation === 'PUT' ? { key, value: stored.data, revision: stored.seq, operation } : undefined;
      } catch (error) {
        if (jetStreamApiCode(error) === JetStreamApiCode.NoMessageFound) return undefined;
        throw error;
      }
    });
  }

  /** Writes a key that must not exist (or be deleted); resolves with its revision. */
  create(key: string, value: Uint8Array): Promise<number> {
    return this.write(key, value, 0);
  }

  /** Writes a key whose current revision must be `revision`; resolves with the new revision. */
  update(key: string, value: Uint8Array, revision: number): Promise<number> {
    return this.write(key, value, revision);
  }

  /** Deletes a key (a delete marker every watch sees). */
  async delete(key: string): Promise<void> {
    await retrying(this.context, () => this.kv.delete(key));
  }

  /** The keys present now that match `filter` (a subject filter: `prefix.>`, default every key). */
  async keys(filter = '>'): Promise<string[]> {
    return retrying(this.context, async () => {
      // Collected whole before anyone acts on them: awaiting inside the iteration ends it early (nats 2.x).
      const keys: string[] = [];
      for await (const key of await this.kv.keys(filter)) keys.push(key);
      return keys;
    });
  }

  /**
   * Entries the bucket holds now, from its stream's state (no scan): values, and the deletion markers its
   * `max_age` has not removed yet.
   */
  async entryCount(): Promise<number> {
    const info = await retrying(this.context, () => this.context.jsm.streams.info(`KV_${this.name}`));
    return info.state.messages;
  }

  private async write(key: string, value: Uint8Array, expected: number): Promise<number> {
    let retried = false;
    return retrying(this.context, async () => {
      try {
        return await (expected === 0 ? this.kv.create(key, value) : this.kv.update(key, value, expected));
      } catch (error) {
        if (isTransient(error)) {
          retried = true;
          throw error;
        }
        if (jetStreamApiCode(error) !== JetStreamApiCode.WrongLastSequence) throw error;
        // An attempt that timed out may have been stored after all: then the "conflict" is our own write.
        const current = retried ? await this.get(key) : undefined;
        if (current && Buffer.compare(current.value, value) === 0) return current.revision;
        throw new RevisionConflictError(this.name, key, expected, { cause: error });
      }
    });
  }

  /** Watches the changes made from now on; resolves once the watch is open. */
  async watch(options: KvWatchOptions): Promise<KvWatch> {
    // Watch from the bucket's current end by sequence, so that a restart can resume where it stopped.
    const status = await retrying(this.context, () => this.kv.status());
    const watch = new RestartingWatch(this.name, this.kv, status.streamInfo.state.last_seq + 1, options, this.context);
    await watch.open();
    return watch;
  }
}

/**
 * A KV watch that outlives its consumer. nats.js ends a watch when its ordered consumer cannot be
 * recreated (the stream's server gone, JetStream unavailable), and otherwise notices a lost consumer only
 * after missing two 5 s heartbeats. This one opens a new consumer from the next revision when the old one
 * ends, and at once after a reconnect, retrying with backoff until it is stopped or the connection closes.
 */
class RestartingWatch implements KvWatch {
  private stopped = false;
  private current?: QueuedIterator<NatsKvEntry>;
  private readonly removeListener: () => void;

  constructor(
    private readonly bucket: string,
    private readonly kv: KV,
    private nextRevision: number,
    private readonly options: KvWatchOptions,
    private readonly context: JetStreamContext,
  ) {
    // Stopping the current iterator makes `consume` open the next one.
    this.removeListener = context.onReconnect(() => this.current?.stop(new Error('NATS reconnected')));
  }

  async open(): Promise<void> {
    const iterator = await this.kv.watch({
      include: KvWatchInclude.UpdatesOnly,
      resumeFromRevision: this.nextRevision,
    });
    if (this.stopped) return iterator.stop();
    this.current = iterator;
    void this.consume(iterator);
  }

  stop(): void {
    this.stopped = true;
    this.removeListener();
    this.current?.stop();
  }

  private async consume(iterator: QueuedIterator<NatsKvEntry>): Promise<void> {
    let failure: unknown = new Error(`the watch of bucket ${this.bucket} ended`);
    try {
      for await (const entry of iterator) {
        this.nextRevision = entry.revision + 1;
        this.options.onChange({
          key: entry.key,
          value: entry.value,
          revision: entry.revision,
          operation: entry.operation,
        });
      }
    } catch (error) {
      failure = error;
    }
    if (this.current === iterator) this.current = undefined;
    if (this.ended(failure)) return;
    this.options.onInterrupted?.(failure);
    for (let attempt = 0; !this.ended(); attempt++) {
      await delay(WATCH_BACKOFF_MS[Math.min(attempt, WATCH_BACKOFF_MS.length - 1)]);
      // Opened while reconnecting, the consumer's creation would be dropped and time out.
      await this.context.connected();
      if (this.ended()) return;
      try {
        await this.open();
        this.options.onResumed?.();
        return;
      } catch {
        // JetStream not back yet: try again later.
      }
    }
  }

  private ended(error?: unknown): boolean {
    return this.stopped || this.context.isClosed() || isClosed(error);
  }
}
