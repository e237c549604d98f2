/** One window to count a call in: at most `limit` calls per window of `windowMs`, under `key`. */
export interface LimitCheck {
  key: string;
  limit: number;
  windowMs: number;
}

/** What `consume` decided: every check passed (and was counted), one refused (nothing counted), or no answer. */
export type LimitDecision =
  | {
      outcome: 'allowed';
      /** Allowed without counting: the shared store is unreachable and the limiter fails open. */
      unchecked?: true;
    }
  | { outcome: 'limited'; /** Index of the first refusing check. */ check: number; retryAfterMs: number }
  | { outcome: 'unavailable'; retryAfterMs: number };

/** What `admitSession` decided. */
export type SessionAdmission =
  | { outcome: 'admitted'; unchecked?: true }
  | { outcome: 'full'; /** Until the owner's earliest session expires. */ retryAfterMs: number }
  | { outcome: 'unavailable'; retryAfterMs: number };

/** The log lines a limiter writes (a NestJS `Logger` fits). */
export interface LimiterLogger {
  warn(message: string): void;
  log(message: string): void;
}

/**
 * Fixed windows counted exactly, and bounded sets of open sessions per owner. A window opens at the first
 * call counted in it and lasts `windowMs`; calls are counted only when every check passes.
 */
export interface RateLimiter {
  /** Checks every window, and counts the call in all of them only when none is full. */
  consume(checks: readonly LimitCheck[]): Promise<LimitDecision>;
  /** Adds `sessionId` to the open sessions of `owner` (expiring after `ttlMs`) unless `max` are open already. */
  admitSession(owner: string, sessionId: string, ttlMs: number, max: number): Promise<SessionAdmission>;
  /** Restarts the expiry of an open session (it was used). */
  touchSession(owner: string, sessionId: string, ttlMs: number): Promise<void>;
  /** Removes a session from the open ones of `owner` (it was deleted). */
  releaseSession(owner: string, sessionId: string): Promise<void>;
  /** 'memory' for a per-process limiter, else whether the shared store answers. */
  state(): 'memory' | 'up' | 'down';
  close(): Promise<void>;
}

/** How a shared limiter behaves while Redis is unreachable: allow the calls uncounted, or refuse them. */
export type FailMode = 'open' | 'closed';

/** How long a refused caller is told to wait when the limiter could not check (fail closed). */
export const UNAVAILABLE_RETRY_MS = 1_000;
