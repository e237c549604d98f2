import { ConflictError, UnavailableError } from '@fabric/contracts';

/**
 * A call with this idempotency key was started and nobody will learn how it ended: the replica running it
 * stopped, or overran the call's deadline, before recording an outcome. It is never run a second time.
 */
export class OutcomeUnknownError extends UnavailableError {
  constructor(why: string) {
    super(
      `This call was already started (same idempotency key) and ${why} before its outcome was recorded: ` +
        'the outcome is unknown and the call may be retried as a new request.',
    );
    this.name = 'OutcomeUnknownError';
  }
}

/** The key already names a different request (another tool or other arguments). */
export class IdempotencyKeyReusedError extends ConflictError {
  constructor() {
    super('This idempotency key was already used for a different call; use a new key for a new call.');
    this.name = 'IdempotencyKeyReusedError';
  }
}

/** The outcome store (JetStream KV) cannot be reached: a call that must not run twice is not run at all. */
export class OutcomeStoreUnavailableError extends UnavailableError {
  constructor(options?: { cause?: unknown }) {
    super('The call was not run: its outcome could not be recorded right now. Try again shortly.', options);
    this.name = 'OutcomeStoreUnavailableError';
  }
}
