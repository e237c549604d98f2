import { createHash } from 'node:crypto';
import { Inject, Injectable } from '@nestjs/common';
import { GATEWAY_ENV, type GatewayEnv } from '../gateway.config';
import { Limits } from './limits';
import { ANONYMOUS, retryAfterSeconds } from './rate-limit.rules';

/** Why a new session was refused, and when the client may try again. */
export interface SessionRefusal {
  reason: 'full' | 'unavailable';
  retryAfterSeconds: number;
  message: string;
}

/** The metric label of refusals by the session bound. */
const RULE = 'MAX_SESSIONS_PER_PRINCIPAL';

/**
 * `MAX_SESSIONS_PER_PRINCIPAL`: the open sessions of each principal, counted across the fleet (each expires
 * from the count with the session's idle TTL unless used, and leaves it on DELETE).
 */
@Injectable()
export class SessionQuota {
  constructor(
    @Inject(Limits) private readonly limits: Limits,
    @Inject(GATEWAY_ENV) private readonly env: GatewayEnv,
  ) {}

  /** Counts a new session of `owner` (a `principalKey`; none: anonymous), or says why it is refused. */
  async admit(sessionId: string, owner: string | undefined): Promise<SessionRefusal | undefined> {
    const max = this.env.MAX_SESSIONS_PER_PRINCIPAL;
    if (max === 0) return undefined;
    const admission = await this.limits.limiter.admitSession(
      counterKey(owner),
      sessionId,
      this.env.SESSION_IDLE_TTL_MS,
      max,
    );
    if (admission.outcome === 'admitted') return undefined;
    if (admission.outcome === 'unavailable') {
      this.limits.refused('unavailable');
      return {
        reason: 'unavailable',
        retryAfterSeconds: retryAfterSeconds(admission.retryAfterMs),
        message: 'Session limits cannot be checked right now; try again',
      };
    }
    this.limits.refused(RULE);
    return {
      reason: 'full',
      retryAfterSeconds: retryAfterSeconds(admission.retryAfterMs),
      message: `Too Many Requests: ${owner ? owner.slice(owner.indexOf('\n') + 1) : ANONYMOUS} has ${max} open sessions (MAX_SESSIONS_PER_PRINCIPAL); close one (DELETE) or retry later`,
    };
  }

  /** The session was used: it stays counted for another idle TTL. */
  touched(sessionId: string, owner: string | undefined): void {
    if (this.env.MAX_SESSIONS_PER_PRINCIPAL === 0) return;
    void this.limits.limiter.touchSession(counterKey(owner), sessionId, this.env.SESSION_IDLE_TTL_MS);
  }

  /** The session was deleted (or never came to be): its slot is free. */
  async released(sessionId: string, owner: string | undefined): Promise<void> {
    if (this.env.MAX_SESSIONS_PER_PRINCIPAL === 0) return;
    await this.limits.limiter.releaseSession(counterKey(owner), sessionId);
  }
}

/** The counter of an owner (`principalKey`, or none: `anonymous`), digested: no principal in clear in Redis. */
function counterKey(owner: string | undefined): string {
  return createHash('sha256')
    .update(owner ?? ANONYMOUS)
    .digest('base64url')
    .slice(0, 32);
}
