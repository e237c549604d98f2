import { createHash } from 'node:crypto';
import { InvalidArgumentError } from '@fabric/contracts';

/**
 * The `_meta` field of a tools/call in which a client names one intended execution of the call, so that
 * its own retries (a new JSON-RPC id, the same key) are answered with the first execution's outcome.
 */
export const IDEMPOTENCY_META_KEY = 'idempotencyKey';

/** Longest key a client may send (a UUID or a digest fits many times over). */
const MAX_CLIENT_KEY_LENGTH = 255;

/** The client's `_meta.idempotencyKey` is not a string of 1 to 255 characters. */
export class InvalidIdempotencyKeyError extends InvalidArgumentError {
  constructor() {
    super(`_meta.${IDEMPOTENCY_META_KEY} must be a string of 1 to ${MAX_CLIENT_KEY_LENGTH} characters`);
    this.name = 'InvalidIdempotencyKeyError';
  }
}

export interface IdempotencyScope {
  sessionId: string;
  /** JSON-RPC id of the request: a proxy re-sending the POST (its gateway died) re-sends this id. */
  requestId?: string | number;
  /** The client's `_meta.idempotencyKey`, as sent. */
  idempotencyKey?: unknown;
}

/**
 * The idempotency key of a call that must not run twice, for the call envelope: a digest of the client's
 * key when it sent one, otherwise of the JSON-RPC id (unique within a session, by the protocol), both
 * scoped by the session so that one client's keys never match another's. Undefined when there is neither.
 */
export function idempotencyKeyOf(scope: IdempotencyScope): string | undefined {
  if (scope.idempotencyKey !== undefined) {
    const key = scope.idempotencyKey;
    if (typeof key !== 'string' || key.length === 0 || key.length > MAX_CLIENT_KEY_LENGTH) {
      throw new InvalidIdempotencyKeyError();
    }
    return digest('client', scope.sessionId, key);
  }
  if (scope.requestId === undefined) return undefined;
  // JSON keeps the id's type: request 1 and request "1" are different requests.
  return digest('request', scope.sessionId, JSON.stringify(scope.requestId));
}

function digest(kind: string, sessionId: string, value: string): string {
  return createHash('sha256').update(`${kind}\n${sessionId}\n${value}`).digest('hex');
}
