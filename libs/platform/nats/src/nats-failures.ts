import { setTimeout as delay } from 'node:timers/promises';
import { ErrorCode, NatsError } from 'nats';
import { NatsClosedError } from './nats.errors';

/** JetStream API error codes (nats-server's `errors.json`) this lib tells apart. */
export const JetStreamApiCode = {
  /** No suitable peers for placement: fewer JetStream servers than replicas. */
  NoSuitablePeers: 10005,
  /** JetStream system temporarily unavailable (no meta leader, e.g. during an election). */
  ClusterUnavailable: 10008,
  /** No consumer of that name on the stream. */
  ConsumerNotFound: 10014,
  InsufficientResources: 10023,
  /** No message found (a get by subject or sequence). */
  NoMessageFound: 10037,
  StreamNameInUse: 10058,
  StreamNotFound: 10059,
  /** A compare-and-set publish found another last sequence for the subject. */
  WrongLastSequence: 10071,
  /** The stream could not store a message: full (maximum messages or bytes, with discard "new"). */
  StreamStoreFailed: 10077,
  /** Replicas > 1 not supported in non-clustered mode. */
  ReplicasNotSupported: 10074,
} as const;

/** The JetStream API error code of a failure, or undefined when it is not a JetStream API error. */
export function jetStreamApiCode(error: unknown): number | undefined {
  return error instanceof NatsError ? error.api_error?.err_code : undefined;
}

/** True for the nats.js failure "nobody subscribes to the subject". */
export function isNoResponders(error: unknown): boolean {
  return error instanceof NatsError && error.code === ErrorCode.NoResponders;
}

/** True when a direct get found no message (as opposed to a failure to ask). */
export function isNoMessage(error: unknown): boolean {
  return error instanceof NatsError && error.code === ErrorCode.JetStream404NoMessages;
}

/** True when the connection is closed or draining: retrying cannot help. */
export function isClosed(error: unknown): boolean {
  if (error instanceof NatsClosedError) return true;
  return (
    error instanceof NatsError &&
    (error.code === ErrorCode.ConnectionClosed || error.code === ErrorCode.ConnectionDraining)
  );
}

/**
 * True for failures that pass by themselves: a timeout (reconnecting to another server, a stream or meta
 * leader being elected), "no responders" on a JetStream subject (a stream without a leader yet), JetStream
 * temporarily unavailable, a dropped connection.
 */
export function isTransient(error: unknown): boolean {
  if (!(error instanceof NatsError) || isClosed(error)) return false;
  const api = error.api_error;
  if (api) return api.err_code === JetStreamApiCode.ClusterUnavailable || api.code === 503;
  return (
    error.code === ErrorCode.Timeout ||
    error.code === ErrorCode.NoResponders ||
    error.code === ErrorCode.JetStream408RequestTimeout ||
    error.code === ErrorCode.Disconnect
  );
}

/**
 * Runs `operation`, again after a growing pause while it fails transiently, for at most `budgetMs` in all.
 * Each attempt waits for `connected` first: nats.js drops what it is given while it reconnects, so an
 * attempt made then would only time out.
 */
export async function retryTransient<T>(
  operation: () => Promise<T>,
  budgetMs: number,
  connected: () => Promise<void> = () => Promise.resolve(),
): Promise<T> {
  const deadline = Date.now() + budgetMs;
  for (let attempt = 0; ; attempt++) {
    await waitAtMost(connected(), deadline - Date.now());
    try {
      return await operation();
    } catch (error) {
      const pause = Math.min(1_000, 50 * 2 ** attempt) * (0.5 + Math.random() / 2);
      if (!isTransient(error) || Date.now() + pause >= deadline) throw error;
      await delay(pause);
    }
  }
}

async function waitAtMost(promise: Promise<void>, ms: number): Promise<void> {
  const timeout = new AbortController();
  await Promise.race([promise, delay(Math.max(0, ms), undefined, { signal: timeout.signal }).catch(() => undefined)]);
  timeout.abort();
}
