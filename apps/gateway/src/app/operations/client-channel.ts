import type { CallEvent, ClientRequest, LogLevel } from '@fabric/contracts';
import type { AskOrigin } from '../routing/call-events';

/**
 * The one way an operation reaches the client that asked for it while it runs. Each protocol era
 * implements it: over the request's SSE stream (2025-11-25 sessions) or with input-required results.
 */
export interface ClientChannel {
  /** The client's minimum log level when the operation started: services do not send what would be dropped. */
  readonly logLevel?: LogLevel;
  /** Set when the client asked for progress notifications. */
  readonly progressToken?: string | number;
  /** Delivers a progress or log event of the running operation (in the order given). */
  notify(event: CallEvent): Promise<void>;
  /**
   * Asks the client (sampling, elicitation) and resolves with its validated result; `signal` withdraws the
   * question. `origin` (absent outside a service call) says where the handler waits for the answer.
   */
  ask(request: ClientRequest, signal: AbortSignal, origin?: AskOrigin): Promise<unknown>;
}
