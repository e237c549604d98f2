import type { JetStreamManager, NatsConnection } from 'nats';
import { retryTransient } from './nats-failures';

/** What the client shares with the streams and buckets it opens. */
export interface JetStreamContext {
  connection: NatsConnection;
  jsm: JetStreamManager;
  /** `JETSTREAM_REPLICAS`: the replica count of every stream and bucket the client creates. */
  replicas: number;
  /** How long an operation retries transient failures (reconnects, leader elections). */
  retryMs: number;
  /** Receives one-line notices worth logging. */
  notice: (message: string) => void;
  /** Resolves once the connection is up (at once when it is, or when it is closed). */
  connected: () => Promise<void>;
  /** Registers a listener for reconnects; returns the function that removes it. */
  onReconnect: (listener: () => void) => () => void;
  /** True once the connection is closed or draining. */
  isClosed: () => boolean;
}

/** Runs a JetStream operation, retrying its transient failures within the context's budget. */
export function retrying<T>(context: JetStreamContext, operation: () => Promise<T>): Promise<T> {
  return retryTransient(operation, context.retryMs, context.connected);
}
