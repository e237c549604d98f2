import { createHash } from 'node:crypto';
import { Inject, Injectable } from '@nestjs/common';
import type { Principal } from '@fabric/contracts';
import { GATEWAY_ENV, type GatewayEnv } from '../gateway.config';
import { Limits } from './limits';
import { ANONYMOUS, counterOf, retryAfterSeconds } from './rate-limit.rules';

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

  /** Counts a new session of `principal`, or says why it is refused. */
  async admit(sessionId: string, principal: Principal | undefined): Promise<SessionRefusal | undefined> {
    const max = this.env.MAX_SESSIONS_PER_PRINCIPAL;
    if (max === 0) return undefined;
    const admission = await this.limits.limiter.admitSession(
      ownerOf(principal),
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
      message: `Too Many Requests: ${principal?.subject ?? ANONYMOUS} has ${max} open sessions (MAX_SESSIONS_PER_PRINCIPAL); close one (DELETE) or retry later`,
    };
  }

  /** The session was used: it stays counted for another idle TTL. */
  touched(sessionId: string, principal: Principal | undefined): void {
    if (this.env.MAX_SESSIONS_PER_PRINCIPAL === 0) return;
    void this.limits.limiter.touchSession(ownerOf(principal), sessionId, this.env.SESSION_IDLE_TTL_MS);
  }

  /** The session was deleted (or never came to be): its slot is free. */
  async released(sessionId: string, principal: Principal | undefined): Promise<void> {
    if (this.env.MAX_SESSIONS_PER_PRINCIPAL === 0) return;
    await this.limits.limiter.releaseSession(ownerOf(principal), sessionId);
  }
}

function ownerOf(principal: Principal | undefined): string {
  return createHash('sha256').update(counterOf(principal)).digest('base64url').slice(0, 32);
}
