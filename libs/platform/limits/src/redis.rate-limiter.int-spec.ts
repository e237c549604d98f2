import { RedisServerProcess } from '@fabric/platform-cache/testing';
import { eventually } from '@fabric/platform-nats/testing';
import Redis from 'ioredis';
import { randomBytes } from 'node:crypto';
import type { FailMode, LimitCheck } from './rate-limiter';
import { RedisRateLimiter } from './redis.rate-limiter';

const REDIS_URL = process.env['REDIS_URL'] ?? 'redis://127.0.0.1:6379';

const quiet = { warn: () => undefined, log: () => undefined };

describe('RedisRateLimiter (against the machine Redis)', () => {
  const prefix = `limitstest_${randomBytes(4).toString('hex')}:limits`;
  let admin: Redis;
  const limiters: RedisRateLimiter[] = [];
  const replica = async () => {
    const limiter = new RedisRateLimiter({ url: REDIS_URL, prefix, failMode: 'open', logger: quiet });
    limiters.push(limiter);
    await eventually(() => limiter.state() === 'up', 5_000, 'Redis to be up');
    return limiter;
  };
  const check = (key: string, limit: number, windowMs = 60_000): LimitCheck => ({ key, limit, windowMs });

  beforeAll(() => {
    admin = new Redis(REDIS_URL);
  });

  afterAll(async () => {
    await Promise.all(limiters.map((limiter) => limiter.close()));
    const keys = await admin.keys(`${prefix}:*`);
    if (keys.length > 0) await admin.del(...keys);
    await admin.quit();
  });

  it('lets exactly the limit through out of 200 concurrent calls spread over two replicas', async () => {
    const [a, b] = [await replica(), await replica()];
    const decisions = await Promise.all(
      Array.from({ length: 200 }, (_, i) => (i % 2 ? a : b).consume([check('exact', 20)])),
    );
    expect(decisions.filter((decision) => decision.outcome === 'allowed')).toHaveLength(20);
    const refused = decisions.filter((decision) => decision.outcome === 'limited');
    expect(refused).toHaveLength(180);
    for (const decision of refused) {
      expect(decision).toMatchObject({ check: 0 });
      expect(decision.outcome === 'limited' && decision.retryAfterMs).toBeGreaterThan(59_000);
    }
    expect(await admin.get(`${prefix}:w:exact`)).toBe('20');
  });

  it('counts a call in none of its windows when one of them is full, and names the first full one', async () => {
    const limiter = await replica();
    expect(await limiter.consume([check('wide', 5), check('narrow', 1)])).toEqual({ outcome: 'allowed' });
    expect(await limiter.consume([check('wide', 5), check('narrow', 1)])).toMatchObject({
      outcome: 'limited',
      check: 1,
    });
    expect(await admin.get(`${prefix}:w:wide`)).toBe('1');
    // The wide window still has room for calls that the narrow one does not cover.
    for (let i = 0; i < 4; i++) expect((await limiter.consume([check('wide', 5)])).outcome).toBe('allowed');
    expect(await limiter.consume([check('narrow', 1), check('wide', 5)])).toMatchObject({ check: 0 });
    expect(await limiter.consume([check('other', 9), check('wide', 5)])).toMatchObject({ check: 1 });
    expect(await admin.get(`${prefix}:w:other`)).toBeNull();
  });

  it('opens a new window once the last one has ended, and says when that will be', async () => {
    const limiter = await replica();
    expect((await limiter.consume([check('short', 2, 300)])).outcome).toBe('allowed');
    expect((await limiter.consume([check('short', 2, 300)])).outcome).toBe('allowed');
    const refused = await limiter.consume([check('short', 2, 300)]);
    expect(refused.outcome).toBe('limited');
    expect(refused.outcome === 'limited' && refused.retryAfterMs).toBeLessThanOrEqual(300);
    expect(await admin.pttl(`${prefix}:w:short`)).toBeGreaterThan(0);
    await eventually(
      async () => (await limiter.consume([check('short', 2, 300)])).outcome === 'allowed',
      5_000,
      'a new window',
    );
    expect(await admin.get(`${prefix}:w:short`)).toBe('1');
  });

  it('bounds the open sessions of an owner across replicas, frees a slot on release and on expiry', async () => {
    const [a, b] = [await replica(), await replica()];
    const admitted = await Promise.all(
      Array.from({ length: 10 }, (_, i) => (i % 2 ? a : b).admitSession('alice', `s${i}`, 60_000, 3)),
    );
    expect(admitted.filter((admission) => admission.outcome === 'admitted')).toHaveLength(3);
    const full = admitted.find((admission) => admission.outcome === 'full');
    expect(full?.outcome === 'full' && full.retryAfterMs).toBeGreaterThan(59_000);
    // Another owner has slots of its own; an open session is admitted again (a retried initialize).
    expect((await a.admitSession('bob', 'b1', 60_000, 3)).outcome).toBe('admitted');
    const open = await admin.zrange(`${prefix}:s:alice`, 0, -1);
    expect(open).toHaveLength(3);
    expect((await a.admitSession('alice', open[0], 60_000, 3)).outcome).toBe('admitted');

    await b.releaseSession('alice', open[0]);
    expect((await a.admitSession('alice', 'late', 60_000, 3)).outcome).toBe('admitted');
    expect((await a.admitSession('alice', 'later', 60_000, 3)).outcome).toBe('full');

    expect((await a.admitSession('carol', 'c1', 200, 1)).outcome).toBe('admitted');
    expect((await a.admitSession('carol', 'c2', 200, 1)).outcome).toBe('full');
    await eventually(async () => (await b.admitSession('carol', 'c2', 200, 1)).outcome === 'admitted', 5_000, 'expiry');
  });

  it('keeps a touched session counted past its first expiry', async () => {
    const limiter = await replica();
    expect((await limiter.admitSession('dave', 'd1', 400, 1)).outcome).toBe('admitted');
    const before = Number(await admin.zscore(`${prefix}:s:dave`, 'd1'));
    await eventually(
      async () => {
        await limiter.touchSession('dave', 'd1', 400);
        return Number(await admin.zscore(`${prefix}:s:dave`, 'd1')) > before;
      },
      5_000,
      'a later expiry',
    );
    await limiter.touchSession('dave', 'gone', 400);
    expect(await admin.zscore(`${prefix}:s:dave`, 'gone')).toBeNull();
  });
});

describe('RedisRateLimiter when its Redis goes away (private redis-server)', () => {
  let server: RedisServerProcess;
  const limiters: RedisRateLimiter[] = [];

  beforeAll(async () => {
    server = await RedisServerProcess.start();
  });

  afterAll(async () => {
    await Promise.all(limiters.map((limiter) => limiter.close()));
    await server?.stop();
  });

  const limiter = async (failMode: FailMode) => {
    const warnings: string[] = [];
    const errors: string[] = [];
    const created = new RedisRateLimiter({
      url: server.url,
      prefix: `outage_${failMode}`,
      failMode,
      timeoutMs: 100,
      logger: { warn: (message) => warnings.push(message), log: () => undefined },
      onError: (operation) => errors.push(operation),
    });
    limiters.push(created);
    await eventually(() => created.state() === 'up', 5_000, 'Redis to be up');
    return { limiter: created, warnings, errors };
  };
  const one = [{ key: 'k', limit: 1, windowMs: 60_000 }];

  it('fails open or closed as configured, logs once per episode, counts each failure, and recovers', async () => {
    const open = await limiter('open');
    const closed = await limiter('closed');
    expect((await open.limiter.consume(one)).outcome).toBe('allowed');
    expect((await open.limiter.consume(one)).outcome).toBe('limited');
    expect((await closed.limiter.consume(one)).outcome).toBe('allowed');

    await server.kill();
    for (let i = 0; i < 5; i++) {
      expect(await open.limiter.consume(one)).toEqual({ outcome: 'allowed', unchecked: true });
      expect(await closed.limiter.consume(one)).toEqual({ outcome: 'unavailable', retryAfterMs: 1_000 });
    }
    expect((await open.limiter.admitSession('o', 's', 60_000, 1)).outcome).toBe('admitted');
    expect((await closed.limiter.admitSession('o', 's', 60_000, 1)).outcome).toBe('unavailable');
    expect(open.warnings).toHaveLength(1);
    expect(open.warnings[0]).toMatch(/RATE_LIMIT_FAIL=open/);
    expect(closed.warnings).toHaveLength(1);
    expect(open.errors.length).toBeGreaterThanOrEqual(6);

    // Back (empty): limits apply again, counted afresh.
    await server.restart();
    await eventually(async () => (await closed.limiter.consume(one)).outcome === 'allowed', 10_000, 'Redis back');
    expect((await closed.limiter.consume(one)).outcome).toBe('limited');
  });

  it('answers within its deadline while Redis hangs', async () => {
    const { limiter: closed } = await limiter('closed');
    server.pause();
    try {
      const started = Date.now();
      expect((await closed.consume(one)).outcome).toBe('unavailable');
      expect(Date.now() - started).toBeLessThan(1_000);
    } finally {
      server.resume();
    }
  });
});
