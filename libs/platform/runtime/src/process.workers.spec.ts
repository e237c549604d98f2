import { availableParallelism } from 'node:os';
import { ConfigError } from '@fabric/platform-config';
import { RestartBackoff, startWithWorkers, workerCount } from './process.workers';

describe('workerCount', () => {
  it('is 1 when WORKERS is unset or empty', () => {
    expect(workerCount({})).toBe(1);
    expect(workerCount({ WORKERS: '' })).toBe(1);
  });

  it('reads a positive integer', () => {
    expect(workerCount({ WORKERS: '1' })).toBe(1);
    expect(workerCount({ WORKERS: '4' })).toBe(4);
  });

  it('reads `auto` as one worker per core', () => {
    expect(workerCount({ WORKERS: 'auto' })).toBe(availableParallelism());
  });

  it.each(['0', '-2', '2.5', 'many', 'AUTO'])('rejects %p with a one-line ConfigError naming the value', (value) => {
    let error: unknown;
    try {
      workerCount({ WORKERS: value });
    } catch (caught) {
      error = caught;
    }
    expect(error).toBeInstanceOf(ConfigError);
    expect((error as ConfigError).message).toBe(`WORKERS must be a positive integer or "auto", not "${value}"`);
  });
});

describe('RestartBackoff', () => {
  const limits = { youngMs: 1_000, firstDelayMs: 100, maxYoungDeaths: 4 };

  it('replaces a worker that lived long after the first delay', () => {
    expect(new RestartBackoff(limits).next(5_000)).toBe(100);
  });

  it('doubles the delay each time a worker dies young, then gives up', () => {
    const backoff = new RestartBackoff(limits);
    expect([backoff.next(10), backoff.next(10), backoff.next(10)]).toEqual([200, 400, 800]);
    expect(backoff.next(10)).toBeUndefined();
  });

  it('starts over once a worker lives long', () => {
    const backoff = new RestartBackoff(limits);
    backoff.next(10);
    backoff.next(10);
    expect(backoff.next(5_000)).toBe(100);
    expect(backoff.next(10)).toBe(200);
  });
});

describe('startWithWorkers', () => {
  it('with one worker, starts the app in this process and resolves to what it returns', async () => {
    await expect(startWithWorkers('app', async () => process.pid, {})).resolves.toBe(process.pid);
    await expect(startWithWorkers('app', async () => 'started', { WORKERS: '1' })).resolves.toBe('started');
  });

  it('with an invalid WORKERS, rejects with a ConfigError and starts nothing', async () => {
    let started = false;
    const start = async () => (started = true);
    await expect(startWithWorkers('app', start, { WORKERS: 'zero' })).rejects.toBeInstanceOf(ConfigError);
    expect(started).toBe(false);
  });
});
