import {
  CallInterruptedError,
  CancelledError,
  ConflictError,
  DeadlineExceededError,
  ERROR_CODES,
  FabricError,
  InternalError,
  InvalidArgumentError,
  NotFoundError,
  PermissionDeniedError,
  UnavailableError,
  ResourceExhaustedError,
  WireErrorSchema,
  type ErrorCode,
} from './errors';

describe('FabricError', () => {
  it('toWire carries code, message and retryable, and leaves ref out when there is none', () => {
    const wire = new FabricError('CONFLICT', 'order 7 is already shipped').toWire();
    expect(wire).toEqual({ code: 'CONFLICT', message: 'order 7 is already shipped', retryable: false });
    expect('ref' in wire).toBe(false);
  });

  it('toWire includes the ref when one was given', () => {
    expect(new FabricError('INTERNAL', 'boom', { ref: 'abc123' }).toWire()).toEqual({
      code: 'INTERNAL',
      message: 'boom',
      retryable: false,
      ref: 'abc123',
    });
  });

  it('toWire produces a value the wire schema accepts', () => {
    expect(WireErrorSchema.safeParse(new NotFoundError('no such order', { ref: 'r1' }).toWire()).success).toBe(true);
  });

  it('fromWire restores code, message, retryable and ref', () => {
    const error = FabricError.fromWire({ code: 'NOT_FOUND', message: 'gone', retryable: true, ref: 'r9' });
    expect(error).toBeInstanceOf(FabricError);
    expect(error).toMatchObject({ code: 'NOT_FOUND', message: 'gone', retryable: true, ref: 'r9' });
  });

  it('round-trips through toWire and fromWire unchanged', () => {
    const wire = new UnavailableError('try later', { ref: 'x' }).toWire();
    expect(FabricError.fromWire(wire).toWire()).toEqual(wire);
  });

  it('a call interrupted by its replica stopping crosses the wire as such: retryable UNAVAILABLE marked interrupted', () => {
    const wire = new CallInterruptedError('The replica shut down before the call finished').toWire();
    expect(wire).toEqual({
      code: 'UNAVAILABLE',
      message: 'The replica shut down before the call finished',
      retryable: true,
      interrupted: true,
    });
    expect(WireErrorSchema.parse(wire)).toEqual(wire);
    const received = FabricError.fromWire(wire);
    expect(received).toBeInstanceOf(CallInterruptedError);
    expect(received.toWire()).toEqual(wire);
    expect(FabricError.fromWire({ code: 'UNAVAILABLE', message: 'down', retryable: true })).not.toBeInstanceOf(
      CallInterruptedError,
    );
  });

  it('keeps the cause it was given', () => {
    const cause = new Error('socket closed');
    expect(new UnavailableError('down', { cause }).cause).toBe(cause);
  });

  const defaultRetryable: Record<ErrorCode, boolean> = {
    NOT_FOUND: false,
    INVALID_ARGUMENT: false,
    CONFLICT: false,
    PERMISSION_DENIED: false,
    UNAVAILABLE: true,
    RESOURCE_EXHAUSTED: true,
    TIMEOUT: true,
    CANCELLED: false,
    INTERNAL: false,
  };
  it.each(ERROR_CODES.map((code) => [code, defaultRetryable[code]] as const))(
    'a %s error is retryable=%s unless told otherwise',
    (code, retryable) => {
      expect(new FabricError(code, 'x').retryable).toBe(retryable);
    },
  );

  it('notStarted survives the round trip over the wire and is left out when false', () => {
    const busy = new FabricError('RESOURCE_EXHAUSTED', 'at capacity', { notStarted: true });
    expect(FabricError.fromWire(busy.toWire()).notStarted).toBe(true);
    expect(new FabricError('INTERNAL', 'x').toWire()).not.toHaveProperty('notStarted');
  });

  it('an explicit retryable overrides the default of the code', () => {
    expect(new FabricError('UNAVAILABLE', 'x', { retryable: false }).retryable).toBe(false);
    expect(new FabricError('CONFLICT', 'x', { retryable: true }).retryable).toBe(true);
  });
});

describe('FabricError subclasses', () => {
  it.each([
    [NotFoundError, 'NotFoundError', 'NOT_FOUND', false],
    [InvalidArgumentError, 'InvalidArgumentError', 'INVALID_ARGUMENT', false],
    [ConflictError, 'ConflictError', 'CONFLICT', false],
    [PermissionDeniedError, 'PermissionDeniedError', 'PERMISSION_DENIED', false],
    [UnavailableError, 'UnavailableError', 'UNAVAILABLE', true],
    [ResourceExhaustedError, 'ResourceExhaustedError', 'RESOURCE_EXHAUSTED', true],
    [DeadlineExceededError, 'DeadlineExceededError', 'TIMEOUT', true],
    [CancelledError, 'CancelledError', 'CANCELLED', false],
    [InternalError, 'InternalError', 'INTERNAL', false],
  ] as const)('%p is named %s, has code %s and retryable=%s', (ErrorClass, name, code, retryable) => {
    const error = new ErrorClass('message');
    expect(error).toBeInstanceOf(FabricError);
    expect(error).toBeInstanceOf(Error);
    expect(error).toMatchObject({ name, code, retryable, message: 'message' });
  });

  it('DeadlineExceededError and CancelledError have default messages', () => {
    expect(new DeadlineExceededError().message).toBe('The call did not finish before its deadline');
    expect(new CancelledError().message).toBe('The call was cancelled');
  });

  it('CancelledError and InternalError still accept an explicit retryable', () => {
    expect(new CancelledError('stop', { retryable: true }).retryable).toBe(true);
    expect(new InternalError('bug', { retryable: true }).retryable).toBe(true);
  });
});
