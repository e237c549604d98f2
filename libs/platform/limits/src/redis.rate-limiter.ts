import Redis from 'ioredis';
import { defineLimiterScripts } from './rate-limiter.scripts';
import {
  UNAVAILABLE_RETRY_MS,
  type FailMode,
  type LimitCheck,
  type LimitDecision,
  type LimiterLogger,
  type RateLimiter,
  type SessionAdmission,
} from './rate-limiter';

/** Raised (and handled by the limiter per its fail mode) when Redis cannot answer right now. */
export class LimiterUnavailableError extends Error {
  constructor(operation: string, options?: { cause?: unknown }) {
    super(`Rate limiter's Redis unavailable (${operation})`, options);
    this.name = 'LimiterUnavailableError';
  }
}

export interface RedisRateLimiterOptions {
  url: string;
  /** Prefix of every key: `<FABRIC_NAMESPACE>:limits`. */
  prefix: string;
  failMode: FailMode;
  /** Deadline of each script: a slow Redis costs a call at most this. */
  timeoutMs?: number;
  logger: LimiterLogger;
  /** Called on each failed command (a metric). */
  onError?: (operation: string) => void;
  now?: () => number;
}

/** After a failure Redis is skipped this long before a call probes it again (no pile-up of timeouts). */
const BACKOFF_MS = 200;

/** The fleet-wide limiter: windows and session sets in Redis, one script per decision. */
export class RedisRateLimiter implements RateLimiter {
  private readonly redis: Redis;
  private readonly now: () => number;
  private failing = false;
  private skipUntil = 0;
  private closed = false;

  constructor(private readonly options: RedisRateLimiterOptions) {
    const timeoutMs = options.timeoutMs ?? 200;
    this.now = options.now ?? Date.now;
    this.redis = new Redis(options.url, {
      commandTimeout: timeoutMs,
      enableOfflineQueue: false,
      maxRetriesPerRequest: 0,
      connectTimeout: Math.max(500, timeoutMs * 10),
      retryStrategy: (times) => Math.min(50 * times, 1_000),
    });
    defineLimiterScripts(this.redis);
    this.redis.on('error', (error: Error) => this.failed('connection', error));
    this.redis.on('ready', () => {
      this.skipUntil = 0;
    });
  }

  async consume(checks: readonly LimitCheck[]): Promise<LimitDecision> {
    if (checks.length === 0) return { outcome: 'allowed' };
    try {
      const [refused, retryAfterMs] = await this.run('consume', () => {
        const keys = checks.map((check) => this.windowKey(check.key));
        const args = checks.flatMap((check) => [check.limit, Math.max(1, Math.round(check.windowMs))]);
        return this.redis.fabricLimitsConsume(keys.length, ...keys, ...args);
      });
      if (refused === 0) return { outcome: 'allowed' };
      return { outcome: 'limited', check: Number(refused) - 1, retryAfterMs: Number(retryAfterMs) };
    } catch (error) {
      if (!(error instanceof LimiterUnavailableError)) throw error;
      return this.options.failMode === 'open'
        ? { outcome: 'allowed', unchecked: true }
        : { outcome: 'unavailable', retryAfterMs: UNAVAILABLE_RETRY_MS };
    }
  }

  async admitSession(owner: string, sessionId: string, ttlMs: number, max: number): Promise<SessionAdmission> {
    try {
      const retryAfterMs = await this.run('admit', () =>
        this.redis.fabricLimitsAdmit(1, this.sessionsKey(owner), sessionId, Math.max(1, Math.round(ttlMs)), max),
      );
      return retryAfterMs === 0 ? { outcome: 'admitted' } : { outcome: 'full', retryAfterMs: Number(retryAfterMs) };
    } catch (error) {
      if (!(error instanceof LimiterUnavailableError)) throw error;
      return this.options.failMode === 'open'
        ? { outcome: 'admitted', unchecked: true }
        : { outcome: 'unavailable', retryAfterMs: UNAVAILABLE_RETRY_MS };
    }
  }

  async touchSession(owner: string, sessionId: string, ttlMs: number): Promise<void> {
    // Best effort: a session not touched only expires from the count early (it is counted again when admitted).
    await this.run('touch', () =>
      this.redis.fabricLimitsTouch(1, this.sessionsKey(owner), sessionId, Math.max(1, Math.round(ttlMs))),
    ).catch(() => undefined);
  }

  async releaseSession(owner: string, sessionId: string): Promise<void> {
    // Best effort: a session not released leaves the count when it expires.
    await this.run('release', () => this.redis.zrem(this.sessionsKey(owner), sessionId)).catch(() => undefined);
  }

  state(): 'up' | 'down' {
    return this.redis.status === 'ready' && !this.failing ? 'up' : 'down';
  }

  async close(): Promise<void> {
    this.closed = true;
    await this.redis.quit().catch(() => this.redis.disconnect());
  }

  /** Runs one script unless Redis is known down; a failure is counted, logged once an episode, and thrown. */
  private async run<T>(operation: string, step: () => Promise<T>): Promise<T> {
    if (this.closed || this.redis.status !== 'ready' || this.now() < this.skipUntil) {
      // Counted, but the back-off is not extended: the next call after it probes Redis again.
      if (!this.closed) this.failed(operation, new Error(`connection ${this.redis.status}`), false);
      throw new LimiterUnavailableError(operation);
    }
    try {
      const result = await step();
      if (this.failing) {
        this.failing = false;
        this.options.logger.log('Rate limiter: Redis is back; limits are enforced again');
      }
      return result;
    } catch (error) {
      this.failed(operation, error);
      throw new LimiterUnavailableError(operation, { cause: error });
    }
  }

  private failed(operation: string, error: unknown, backOff = true): void {
    if (this.closed) return;
    this.options.onError?.(operation);
    if (backOff) this.skipUntil = this.now() + BACKOFF_MS;
    if (this.failing) return;
    this.failing = true;
    const consequence =
      this.options.failMode === 'open'
        ? 'calls pass unlimited (RATE_LIMIT_FAIL=open)'
        : 'calls are refused (RATE_LIMIT_FAIL=closed)';
    this.options.logger.warn(
      `Rate limiter: Redis unavailable (${operation}: ${error instanceof Error ? error.message : String(error)}); ${consequence}`,
    );
  }

  private windowKey(key: string): string {
    return `${this.options.prefix}:w:${key}`;
  }

  private sessionsKey(owner: string): string {
    return `${this.options.prefix}:s:${owner}`;
  }
}
