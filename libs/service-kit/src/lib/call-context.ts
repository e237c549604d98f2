import type {
  ElicitationRequest,
  ElicitationResult,
  LogLevel,
  Principal,
  RootsResult,
  SamplingRequest,
  SamplingResult,
} from '@fabric/contracts';
import type { ServiceCache } from './service.cache';

/** What a handler knows about the call it serves, and how it talks to the client that made it. */
/** How a handler names one request to its client. */
export interface AskOptions {
  /**
   * The request's key in an input-required result (`inputRequests`, protocol 2026-07-28), under which the
   * client answers; letters, digits, `_`, `.`, `-`. Default: the gateway numbers the call's requests.
   */
  key?: string;
}

export interface CallContext {
  /** Unique id of the call (also in every log line of it). */
  readonly callId: string;
  /** Fires when the deadline passes, the client cancels, or the replica shuts down: stop work then. */
  readonly signal: AbortSignal;
  /** Absolute deadline, epoch milliseconds. */
  readonly deadline: number;
  readonly principal?: Principal;
  readonly sessionId?: string;
  /**
   * Which run of this work it is: 1 for a plain call and a task's first run, 2 and more when a task is run
   * again because the replica running it before died (part of its work may have happened then).
   */
  readonly attempt: number;
  /** The task's id when the call runs as an MCP task (then `callId` is the same id). */
  readonly taskId?: string;
  /**
   * Reports progress to the client (`notifications/progress`) when it asked for it with a progress token;
   * does nothing otherwise. `progress` must increase from one report to the next.
   */
  progress(progress: number, total?: number, message?: string): void;
  /** Sends a log message to the client (`notifications/message`) when its log level lets it through. */
  log(level: LogLevel, data: unknown, logger?: string): void;
  /**
   * Asks the client's model (`sampling/createMessage`) and waits for its answer, at most until the call's
   * deadline. Fails (`UNAVAILABLE`) when the client does not support sampling.
   */
  sample(request: SamplingRequest, options?: AskOptions): Promise<SamplingResult>;
  /** Asks the user (`elicitation/create`) and waits for the answer; fails when the client cannot elicit. */
  elicit(request: ElicitationRequest, options?: AskOptions): Promise<ElicitationResult>;
  /** Asks the client for its roots (`roots/list`); fails when the client does not offer them. */
  roots(options?: AskOptions): Promise<RootsResult>;
  /**
   * The service's cache: `getOrSet` for the handler's own expensive reads, `invalidate({ tags, keys })`
   * after a write (before returning, so that the reply is sent once no replica serves the old value).
   */
  readonly cache: Pick<ServiceCache, 'getOrSet' | 'invalidate'>;
}

/** Context of a resource read: the requested URI and, for a template, its matched variables. */
export interface ResourceContext extends CallContext {
  readonly uri: string;
}
