import { CallRequestSchema } from '@fabric/contracts';
import { InvalidIdempotencyKeyError, idempotencyKeyOf } from './idempotency-key';

describe('idempotencyKeyOf', () => {
  it('gives a request re-sent in its session the same key, and fits the call envelope', () => {
    const key = idempotencyKeyOf({ sessionId: 's1', requestId: 7 });
    expect(idempotencyKeyOf({ sessionId: 's1', requestId: 7 })).toBe(key);
    const envelope = { id: 'c1', operation: 'tools.call', name: 'bump', deadline: 1, idempotencyKey: key };
    expect(CallRequestSchema.safeParse(envelope).success).toBe(true);
  });

  it('tells apart other sessions, other ids, and a numeric id from the same id as a string', () => {
    const keys = [
      idempotencyKeyOf({ sessionId: 's1', requestId: 7 }),
      idempotencyKeyOf({ sessionId: 's2', requestId: 7 }),
      idempotencyKeyOf({ sessionId: 's1', requestId: 8 }),
      idempotencyKeyOf({ sessionId: 's1', requestId: '7' }),
    ];
    expect(new Set(keys).size).toBe(4);
  });

  it("uses the client's key instead of the request id, scoped by the session", () => {
    const retried = idempotencyKeyOf({ sessionId: 's1', requestId: 1, idempotencyKey: 'order-42' });
    expect(idempotencyKeyOf({ sessionId: 's1', requestId: 2, idempotencyKey: 'order-42' })).toBe(retried);
    expect(idempotencyKeyOf({ sessionId: 's2', requestId: 1, idempotencyKey: 'order-42' })).not.toBe(retried);
    expect(retried).not.toBe(idempotencyKeyOf({ sessionId: 's1', requestId: 1 }));
  });

  it.each([42, '', 'x'.repeat(256), null])('refuses the client key %p', (idempotencyKey) => {
    expect(() => idempotencyKeyOf({ sessionId: 's1', requestId: 1, idempotencyKey })).toThrow(
      InvalidIdempotencyKeyError,
    );
  });

  it('has no key for a request without an id or a client key', () => {
    expect(idempotencyKeyOf({ sessionId: 's1' })).toBeUndefined();
  });
});
