import { instanceIdOf } from './instance-id';

describe('instanceIdOf', () => {
  it('keeps the readable base and adds six hex digits', () => {
    expect(instanceIdOf('orders')).toMatch(/^orders-[0-9a-f]{6}$/);
  });

  it('names the worker slot between the base and the nonce', () => {
    expect(instanceIdOf('bench', 1)).toMatch(/^bench-w1-[0-9a-f]{6}$/);
  });

  it('gives two processes started with the same base and slot different ids', () => {
    const ids = new Set(Array.from({ length: 50 }, () => instanceIdOf('bench', 0)));
    expect(ids.size).toBe(50);
  });
});
