import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import { z } from 'zod';
import { CLIENT_REQUEST_METHODS } from '@fabric/contracts';

/** What a `requestState` carries (2026-07-28 input-required results): enough for any replica to continue. */
export interface RequestState {
  /** The service call that waits for the client's answers. */
  call: string;
  /** Per `inputRequests` key: the request's method and the NATS subject its handler waits on for the answer. */
  pending: Record<string, { method: (typeof CLIENT_REQUEST_METHODS)[number]; replyTo: string }>;
  /** Whom the state was given to (`principalKey`, '' for an unauthenticated client). */
  principal: string;
  /** The request it continues: its method and its `Mcp-Name` (tool or prompt name, resource URI). */
  method: string;
  name: string;
  /** Epoch ms after which the state is refused. */
  expires: number;
  /** Unique per state: it is used at most once. */
  nonce: string;
}

/**
 * A handler's reply inbox (nats.js `createInbox()`): even a state sealed with a leaked key cannot make a
 * replica publish anywhere else.
 */
const REPLY_INBOX = /^_INBOX\.[A-Za-z0-9_-]+(\.[A-Za-z0-9_-]+)*$/;

const RequestStateSchema = z.object({
  call: z.string().min(1),
  pending: z.record(
    z.string(),
    z.object({ method: z.enum(CLIENT_REQUEST_METHODS), replyTo: z.string().regex(REPLY_INBOX) }),
  ),
  principal: z.string(),
  method: z.string(),
  name: z.string(),
  expires: z.number(),
  nonce: z.string().min(1),
});

/** Why a `requestState` was refused; the client is told only that it is invalid. */
export type InvalidStateReason = 'malformed' | 'tampered' | 'expired' | 'mismatch' | 'replayed';

/** A `requestState` that does not continue this request: unreadable, altered, expired, someone else's, or used. */
export class InvalidRequestStateError extends Error {
  constructor(readonly reason: InvalidStateReason) {
    super(`Invalid requestState (${reason})`);
    this.name = 'InvalidRequestStateError';
  }
}

/** Bound into every sealed state (GCM additional data): a token of another purpose or version never opens. */
const PURPOSE = Buffer.from('mcp-fabric/requestState/v1');
const IV_BYTES = 12;
const TAG_BYTES = 16;

/** The key of `REQUEST_STATE_KEY`: 32 bytes as 64 hex digits or as Base64; undefined when it is neither. */
export function requestStateKey(text: string): Buffer | undefined {
  const trimmed = text.trim();
  const bytes = /^[0-9a-fA-F]{64}$/.test(trimmed)
    ? Buffer.from(trimmed, 'hex')
    : /^[A-Za-z0-9+/_-]{43}=?$/.test(trimmed)
      ? Buffer.from(trimmed, 'base64')
      : undefined;
  return bytes?.length === 32 ? bytes : undefined;
}

/**
 * Seals and opens `requestState` with AES-256-GCM: the client carries it but can neither read nor change it,
 * and every replica holding the fleet's key opens it. Opening checks the binding (principal, method, name)
 * and the expiry; that a state is used only once is the caller's part (it knows the fleet's store).
 */
export class RequestStateSeal {
  constructor(private readonly key: Buffer) {
    if (key.length !== 32) throw new RangeError('the requestState key must be 32 bytes');
  }

  /** The opaque text the client echoes back. */
  seal(state: RequestState): string {
    const iv = randomBytes(IV_BYTES);
    const cipher = createCipheriv('aes-256-gcm', this.key, iv);
    cipher.setAAD(PURPOSE);
    const text = Buffer.concat([cipher.update(JSON.stringify(state), 'utf8'), cipher.final()]);
    return Buffer.concat([iv, cipher.getAuthTag(), text]).toString('base64url');
  }

  /** The state a request continues; throws `InvalidRequestStateError` unless it is intact, current and this caller's. */
  open(token: string, expected: Pick<RequestState, 'principal' | 'method' | 'name'>, now = Date.now()): RequestState {
    const bytes = /^[A-Za-z0-9_-]+$/.test(token) ? Buffer.from(token, 'base64url') : undefined;
    if (!bytes || bytes.length <= IV_BYTES + TAG_BYTES) throw new InvalidRequestStateError('malformed');
    let plain: string;
    try {
      const decipher = createDecipheriv('aes-256-gcm', this.key, bytes.subarray(0, IV_BYTES));
      decipher.setAAD(PURPOSE);
      decipher.setAuthTag(bytes.subarray(IV_BYTES, IV_BYTES + TAG_BYTES));
      plain = Buffer.concat([decipher.update(bytes.subarray(IV_BYTES + TAG_BYTES)), decipher.final()]).toString('utf8');
    } catch {
      throw new InvalidRequestStateError('tampered');
    }
    let parsed: unknown;
    try {
      parsed = JSON.parse(plain);
    } catch {
      throw new InvalidRequestStateError('malformed');
    }
    const state = RequestStateSchema.safeParse(parsed);
    if (!state.success) throw new InvalidRequestStateError('malformed');
    if (state.data.expires <= now) throw new InvalidRequestStateError('expired');
    if (
      state.data.principal !== expected.principal ||
      state.data.method !== expected.method ||
      state.data.name !== expected.name
    ) {
      throw new InvalidRequestStateError('mismatch');
    }
    return state.data;
  }
}
