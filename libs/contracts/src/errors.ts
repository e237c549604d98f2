import { z } from 'zod';

/** Error codes that cross the wire in a reply envelope. */
export const ERROR_CODES = [
  'NOT_FOUND',
  'INVALID_ARGUMENT',
  'CONFLICT',
  'PERMISSION_DENIED',
  'UNAVAILABLE',
  'RESOURCE_EXHAUSTED',
  'TIMEOUT',
  'CANCELLED',
  'INTERNAL',
] as const;
export const ErrorCodeSchema = z.enum(ERROR_CODES);
export type ErrorCode = z.infer<typeof ErrorCodeSchema>;

export const WireErrorSchema = z.object({
  code: ErrorCodeSchema,
  message: z.string(),
  /** True when the same call may succeed if sent again (the outcome of this one is known not to have happened or is unknown). */
  retryable: z.boolean(),
  /** Reference id of an internal error, for matching the client's report with the service's log. */
  ref: z.string().optional(),
  /**
   * The replica refused the call before running any of it (at capacity, shutting down), so sending it to
   * another replica cannot run it twice, whatever the tool does.
   */
  notStarted: z.boolean().optional(),
  /**
   * The replica stopped (its shutdown grace ran out) while running the call and aborted it: part of it may
   * have happened. A read-only or idempotent call may be sent to another replica; any other's outcome is unknown.
   */
  interrupted: z.boolean().optional(),
});
export type WireError = z.infer<typeof WireErrorSchema>;

interface FabricErrorOptions {
  cause?: unknown;
  retryable?: boolean;
  ref?: string;
  notStarted?: boolean;
}

/** An error with a wire code. Services throw subclasses; the message reaches the client as written. */
export class FabricError extends Error {
  readonly retryable: boolean;
  readonly ref?: string;
  readonly notStarted: boolean;

  constructor(
    readonly code: ErrorCode,
    message: string,
    options: FabricErrorOptions = {},
  ) {
    super(message, { cause: options.cause });
    this.name = 'FabricError';
    this.retryable =
      options.retryable ?? (code === 'UNAVAILABLE' || code === 'TIMEOUT' || code === 'RESOURCE_EXHAUSTED');
    this.ref = options.ref;
    this.notStarted = options.notStarted ?? false;
  }

  toWire(): WireError {
    return {
      code: this.code,
      message: this.message,
      retryable: this.retryable,
      ...(this.ref ? { ref: this.ref } : {}),
      ...(this.notStarted ? { notStarted: true } : {}),
    };
  }

  static fromWire(error: WireError): FabricError {
    if (error.interrupted) return new CallInterruptedError(error.message, { ref: error.ref });
    return new FabricError(error.code, error.message, {
      retryable: error.retryable,
      ref: error.ref,
      notStarted: error.notStarted,
    });
  }
}

export class NotFoundError extends FabricError {
  constructor(message: string, options?: FabricErrorOptions) {
    super('NOT_FOUND', message, options);
    this.name = 'NotFoundError';
  }
}

export class InvalidArgumentError extends FabricError {
  constructor(message: string, options?: FabricErrorOptions) {
    super('INVALID_ARGUMENT', message, options);
    this.name = 'InvalidArgumentError';
  }
}

export class ConflictError extends FabricError {
  constructor(message: string, options?: FabricErrorOptions) {
    super('CONFLICT', message, options);
    this.name = 'ConflictError';
  }
}

export class PermissionDeniedError extends FabricError {
  constructor(message: string, options?: FabricErrorOptions) {
    super('PERMISSION_DENIED', message, options);
    this.name = 'PermissionDeniedError';
  }
}

export class UnavailableError extends FabricError {
  constructor(message: string, options?: FabricErrorOptions) {
    super('UNAVAILABLE', message, options);
    this.name = 'UnavailableError';
  }
}

/** A replica or a gateway is at its concurrency limit; the call was not started and may be sent again. */
export class ResourceExhaustedError extends FabricError {
  constructor(message: string, options?: FabricErrorOptions) {
    super('RESOURCE_EXHAUSTED', message, options);
    this.name = 'ResourceExhaustedError';
  }
}

/**
 * A replica that stopped before the call finished aborted it (`interrupted` on the wire): UNAVAILABLE,
 * retryable, and safe to run again elsewhere only when the operation is idempotent.
 */
export class CallInterruptedError extends UnavailableError {
  constructor(
    message = 'The replica stopped before the call finished',
    options?: Omit<FabricErrorOptions, 'notStarted'>,
  ) {
    super(message, { ...options, retryable: true });
    this.name = 'CallInterruptedError';
  }

  override toWire(): WireError {
    return { ...super.toWire(), interrupted: true };
  }
}

export class DeadlineExceededError extends FabricError {
  constructor(message = 'The call did not finish before its deadline', options?: FabricErrorOptions) {
    super('TIMEOUT', message, options);
    this.name = 'DeadlineExceededError';
  }
}

export class CancelledError extends FabricError {
  constructor(message = 'The call was cancelled', options?: FabricErrorOptions) {
    super('CANCELLED', message, { retryable: false, ...options });
    this.name = 'CancelledError';
  }
}

export class InternalError extends FabricError {
  constructor(message: string, options?: FabricErrorOptions) {
    super('INTERNAL', message, { retryable: false, ...options });
    this.name = 'InternalError';
  }
}
