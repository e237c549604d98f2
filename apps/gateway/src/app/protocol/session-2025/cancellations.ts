import type { RequestId } from '@modelcontextprotocol/sdk/types.js';

/** Stops one running request (aborts its work, or tells the SDK server that runs it). */
export type Canceller = (reason: string) => void;

/** How long a cancellation for a request not (yet) running here is remembered. */
export const REMEMBER_CANCEL_MS = 5_000;
/** Remembered cancellations kept at most (the oldest are forgotten first). */
const MAX_REMEMBERED = 10_000;

const keyOf = (sessionId: string, requestId: RequestId) => `${sessionId}\u0000${typeof requestId}:${requestId}`;

/**
 * The one place where requests are cancelled on this replica: whichever way a request is served registers
 * how to stop it, and a client's `notifications/cancelled` (received here or forwarded by another replica),
 * a client that went away, or a closed session stops it through here. A cancellation that arrives before
 * its request is registered (it may have overtaken it through another replica) is remembered for a few
 * seconds and applied when the request starts.
 */
export class Cancellations {
  private readonly running = new Map<string, Canceller>();
  private readonly remembered = new Map<string, { reason: string; until: number }>();

  constructor(private readonly now: () => number = Date.now) {}

  /**
   * Registers a request that runs here; returns the function that unregisters it. When a cancellation for
   * it arrived shortly before, `cancel` is called at once.
   */
  register(sessionId: string, requestId: RequestId, cancel: Canceller): () => void {
    const key = keyOf(sessionId, requestId);
    this.running.set(key, cancel);
    const early = this.remembered.get(key);
    if (early) {
      this.remembered.delete(key);
      if (early.until > this.now()) cancel(early.reason);
    }
    return () => {
      if (this.running.get(key) === cancel) this.running.delete(key);
    };
  }

  /** The request finished: nothing to stop any more. */
  finished(sessionId: string, requestId: RequestId): void {
    this.running.delete(keyOf(sessionId, requestId));
  }

  /** True while the request runs here. */
  runs(sessionId: string, requestId: RequestId): boolean {
    return this.running.has(keyOf(sessionId, requestId));
  }

  /** Stops the request if it runs here (true), else remembers the cancellation for a while (false). */
  cancel(sessionId: string, requestId: RequestId, reason: string): boolean {
    const key = keyOf(sessionId, requestId);
    const cancel = this.running.get(key);
    if (cancel) {
      this.running.delete(key);
      cancel(reason);
      return true;
    }
    this.remember(key, reason);
    return false;
  }

  /** Stops every request of a session that runs here (the session ended). */
  cancelSession(sessionId: string, reason: string): void {
    const prefix = `${sessionId}\u0000`;
    for (const [key, cancel] of this.running) {
      if (!key.startsWith(prefix)) continue;
      this.running.delete(key);
      cancel(reason);
    }
  }

  private remember(key: string, reason: string): void {
    const now = this.now();
    // Oldest first (insertion order): drop the expired, and the oldest beyond the bound.
    for (const [old, entry] of this.remembered) {
      if (entry.until > now && this.remembered.size < MAX_REMEMBERED) break;
      this.remembered.delete(old);
    }
    this.remembered.delete(key);
    this.remembered.set(key, { reason, until: now + REMEMBER_CANCEL_MS });
  }
}
