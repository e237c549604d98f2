import { CallInterruptedError, UnavailableError } from '@fabric/contracts';

/**
 * The upstream process (or HTTP session) holding the call died or hung: UNAVAILABLE, retryable; read-only
 * and idempotent calls are run again on another connection (here) or replica (by the gateway).
 */
export class UpstreamLostError extends CallInterruptedError {
  constructor(why: string) {
    super(`The bridged MCP server stopped while serving the call (${why}); it is being restarted`);
    this.name = 'UpstreamLostError';
  }
}

/** No upstream connection of this replica is up: the call was not started and may go to another replica. */
export class NoUpstreamError extends UnavailableError {
  constructor() {
    super('No process of the bridged MCP server is up on this replica', { notStarted: true });
    this.name = 'NoUpstreamError';
  }
}
