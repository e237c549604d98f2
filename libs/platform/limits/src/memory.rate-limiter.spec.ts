import { MemoryRateLimiter } from './memory.rate-limiter';

describe('MemoryRateLimiter', () => {
  let now = 1_000;
  let limiter: MemoryRateLimiter;

  beforeEach(() => {
    now = 1_000;
    limiter = new MemoryRateLimiter(() => now);
  });

  afterEach(() => limiter.close());

  it('counts a call in every window only when none is full, and opens a new window after the last', async () => {
    const checks = [
      { key: 'wide', limit: 3, windowMs: 10_000 },
      { key: 'narrow', limit: 1, windowMs: 1_000 },
    ];
    expect(await limiter.consume(checks)).toEqual({ outcome: 'allowed' });
    now += 400;
    expect(await limiter.consume(checks)).toEqual({ outcome: 'limited', check: 1, retryAfterMs: 600 });
    now += 600;
    expect(await limiter.consume(checks)).toEqual({ outcome: 'allowed' });
    now += 1_000;
    expect(await limiter.consume(checks)).toEqual({ outcome: 'allowed' });
    now += 1_000;
    expect(await limiter.consume(checks)).toEqual({ outcome: 'limited', check: 0, retryAfterMs: 7_000 });
  });

  it('bounds open sessions per owner until one is released or expires; a touch keeps one open', async () => {
    expect((await limiter.admitSession('a', 's1', 1_000, 2)).outcome).toBe('admitted');
    expect((await limiter.admitSession('a', 's2', 1_000, 2)).outcome).toBe('admitted');
    expect((await limiter.admitSession('b', 's3', 1_000, 2)).outcome).toBe('admitted');
    now += 500;
    expect(await limiter.admitSession('a', 's4', 1_000, 2)).toEqual({ outcome: 'full', retryAfterMs: 500 });
    await limiter.releaseSession('a', 's1');
    expect((await limiter.admitSession('a', 's4', 1_000, 2)).outcome).toBe('admitted');
    await limiter.touchSession('a', 's2', 1_000);
    now += 600;
    expect(await limiter.admitSession('a', 's5', 1_000, 2)).toEqual({ outcome: 'full', retryAfterMs: 400 });
    now += 400;
    expect((await limiter.admitSession('a', 's5', 1_000, 2)).outcome).toBe('admitted');
    expect((await limiter.admitSession('a', 's6', 1_000, 0)).outcome).toBe('admitted');
  });
});
