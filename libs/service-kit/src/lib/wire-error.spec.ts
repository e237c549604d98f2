import {
  CallInterruptedError,
  ConflictError,
  DeadlineExceededError,
  InternalError,
  NotFoundError,
  ResourceExhaustedError,
  WireErrorSchema,
} from '@fabric/contracts';
import { toWireError } from './wire-error';

describe('toWireError', () => {
  it('passes a typed error through with its code, message and retryable, and logs nothing', () => {
    const log = jest.fn();
    expect(toWireError(new NotFoundError('No order 7'), log)).toEqual({
      code: 'NOT_FOUND',
      message: 'No order 7',
      retryable: false,
    });
    expect(toWireError(new DeadlineExceededError(), log)).toMatchObject({ code: 'TIMEOUT', retryable: true });
    expect(toWireError(new ConflictError('taken', { retryable: true }), log)).toMatchObject({
      code: 'CONFLICT',
      retryable: true,
    });
    expect(log).not.toHaveBeenCalled();
  });

  it('turns an unknown error into INTERNAL with a ref, and only the ref leaves the process', () => {
    const log = jest.fn();
    const secret = new Error('password=hunter2 at db.internal:5432');
    const wire = toWireError(secret, log);
    expect(wire).toMatchObject({ code: 'INTERNAL', retryable: false, ref: expect.stringMatching(/^[0-9a-f]{8}$/) });
    expect(wire.message).toContain(wire.ref);
    expect(JSON.stringify(wire)).not.toContain('hunter2');
    expect(WireErrorSchema.safeParse(wire).success).toBe(true);
  });

  it("drops notStarted from a handler's error: a handler may have done work before it threw", () => {
    const refusal = new ResourceExhaustedError('downstream busy', { notStarted: true });
    const wire = toWireError(refusal, jest.fn());
    expect(wire).toEqual({ code: 'RESOURCE_EXHAUSTED', message: 'downstream busy', retryable: true });
  });

  it("drops interrupted from a handler's error: only the kit aborts a call because its replica stops", () => {
    const wire = toWireError(new CallInterruptedError('upstream went away'), jest.fn());
    expect(wire).toEqual({ code: 'UNAVAILABLE', message: 'upstream went away', retryable: true });
  });

  it('logs the original error under the same ref it sends', () => {
    const log = jest.fn();
    const error = new Error('boom');
    const wire = toWireError(error, log);
    expect(log).toHaveBeenCalledWith(wire.ref, error);
  });

  it('masks a typed InternalError too, since its message may describe internals', () => {
    const log = jest.fn();
    const wire = toWireError(new InternalError('output did not match schema { secretColumn }'), log);
    expect(wire.code).toBe('INTERNAL');
    expect(wire.message).not.toContain('secretColumn');
    expect(log).toHaveBeenCalledTimes(1);
  });

  it('turns a thrown non-Error value into INTERNAL', () => {
    expect(toWireError('a string', () => undefined)).toMatchObject({ code: 'INTERNAL' });
    expect(toWireError(undefined, () => undefined)).toMatchObject({ code: 'INTERNAL' });
  });

  it('gives each internal error its own ref', () => {
    const refs = new Set(Array.from({ length: 20 }, () => toWireError(new Error('x'), () => undefined).ref));
    expect(refs.size).toBe(20);
  });
});
