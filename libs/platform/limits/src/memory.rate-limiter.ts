import type { LimitCheck, LimitDecision, RateLimiter, SessionAdmission } from './rate-limiter';

/** The same windows and session sets in this process only: exact for one replica, per replica for several. */
export class MemoryRateLimiter implements RateLimiter {
  private readonly windows = new Map<string, { used: number; endsAt: number }>();
  /** Per owner: session id → expiry. */
  private readonly sessions = new Map<string, Map<string, number>>();
  private readonly sweeper: NodeJS.Timeout;

  constructor(private readonly now: () => number = Date.now) {
    // Ended windows and owners without sessions are dropped, so idle keys cost nothing for long.
    this.sweeper = setInterval(() => this.sweep(), 10_000);
    this.sweeper.unref();
  }

  async consume(checks: readonly LimitCheck[]): Promise<LimitDecision> {
    const now = this.now();
    for (let i = 0; i < checks.length; i++) {
      const window = this.current(checks[i].key, now);
      if (window && window.used >= checks[i].limit)
        return { outcome: 'limited', check: i, retryAfterMs: window.endsAt - now };
    }
    for (const check of checks) {
      const window = this.current(check.key, now);
      if (window) window.used++;
      else this.windows.set(check.key, { used: 1, endsAt: now + check.windowMs });
    }
    return { outcome: 'allowed' };
  }

  async admitSession(owner: string, sessionId: string, ttlMs: number, max: number): Promise<SessionAdmission> {
    const now = this.now();
    let open = this.sessions.get(owner);
    if (!open) this.sessions.set(owner, (open = new Map()));
    for (const [id, expiresAt] of open) if (expiresAt <= now) open.delete(id);
    if (max > 0 && !open.has(sessionId) && open.size >= max) {
      return { outcome: 'full', retryAfterMs: Math.max(1, Math.min(...open.values()) - now) };
    }
    open.set(sessionId, now + ttlMs);
    return { outcome: 'admitted' };
  }

  async touchSession(owner: string, sessionId: string, ttlMs: number): Promise<void> {
    const open = this.sessions.get(owner);
    if (open?.has(sessionId)) open.set(sessionId, this.now() + ttlMs);
  }

  async releaseSession(owner: string, sessionId: string): Promise<void> {
    const open = this.sessions.get(owner);
    open?.delete(sessionId);
    if (open?.size === 0) this.sessions.delete(owner);
  }

  state(): 'memory' {
    return 'memory';
  }

  async close(): Promise<void> {
    clearInterval(this.sweeper);
  }

  private current(key: string, now: number): { used: number; endsAt: number } | undefined {
    const window = this.windows.get(key);
    if (window && window.endsAt > now) return window;
    if (window) this.windows.delete(key);
    return undefined;
  }

  private sweep(): void {
    const now = this.now();
    for (const [key, window] of this.windows) if (window.endsAt <= now) this.windows.delete(key);
    for (const [owner, open] of this.sessions) {
      for (const [id, expiresAt] of open) if (expiresAt <= now) open.delete(id);
      if (open.size === 0) this.sessions.delete(owner);
    }
  }
}
