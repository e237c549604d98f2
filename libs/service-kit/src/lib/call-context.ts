import type { Principal } from '@fabric/contracts';

/** What a handler knows about the call it serves. */
export interface CallContext {
  /** Unique id of the call (also in every log line of it). */
  readonly callId: string;
  /** Fires when the deadline passes, the client cancels, or the replica shuts down: stop work then. */
  readonly signal: AbortSignal;
  /** Absolute deadline, epoch milliseconds. */
  readonly deadline: number;
  readonly principal?: Principal;
  readonly sessionId?: string;
}

/** Context of a resource read: the requested URI and, for a template, its matched variables. */
export interface ResourceContext extends CallContext {
  readonly uri: string;
}
