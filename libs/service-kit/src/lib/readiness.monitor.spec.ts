import { ReadinessRegistry } from '@fabric/platform-observability';
import { ReadinessMonitor } from './readiness.monitor';
import { eventually } from '@fabric/platform-nats/testing';

/** Polls until `check` holds, failing after `timeoutMs`. */
const until = (what: string, check: () => boolean, timeoutMs = 2_000) => eventually(check, timeoutMs, what);

describe('ReadinessMonitor', () => {
  const monitors: ReadinessMonitor[] = [];
  afterEach(() => monitors.splice(0).forEach((monitor) => monitor.stop()));

  function start(registry: ReadinessRegistry, options = { intervalMs: 10, timeoutMs: 50 }) {
    const changes: (string | undefined)[] = [];
    const monitor = new ReadinessMonitor(registry, options, (problem) => void changes.push(problem));
    monitors.push(monitor);
    monitor.start();
    return { monitor, changes };
  }

  it('reports a failing check once, with its reason, and its recovery once', async () => {
    const registry = new ReadinessRegistry();
    let down = true;
    let rounds = 0;
    registry.register('database', () => {
      rounds++;
      if (down) throw new Error('connection refused');
    });
    const { monitor, changes } = start(registry);
    await until('the failure', () => changes.length === 1);
    expect(monitor.problem).toBe('database: connection refused');
    const seen = rounds;
    await until('two more rounds', () => rounds >= seen + 2);
    down = false;
    await until('the recovery', () => changes.length === 2);
    expect(changes).toEqual(['database: connection refused', undefined]);
    expect(monitor.problem).toBeUndefined();
  });

  it('counts a check that hangs as failing once its timeout is over', async () => {
    const registry = new ReadinessRegistry();
    registry.register('database', () => new Promise<void>(() => undefined));
    const { changes } = start(registry);
    await until('the failure', () => changes.length === 1);
    expect(changes).toEqual(['database: no answer within 50 ms']);
  });

  it('starts no round while one is under way', async () => {
    const registry = new ReadinessRegistry();
    let running = 0;
    let overlapped = false;
    let rounds = 0;
    registry.register('slow', async () => {
      overlapped ||= running > 0;
      running++;
      // The check itself takes 30 ms (the behaviour under test: a slow round), not a wait for something.
      await new Promise((resolve) => setTimeout(resolve, 30));
      running--;
      rounds++;
    });
    start(registry, { intervalMs: 1, timeoutMs: 1_000 });
    await until('five rounds', () => rounds >= 5);
    expect(overlapped).toBe(false);
  });

  it('reports nothing after stop, even for a round that was under way', async () => {
    const registry = new ReadinessRegistry();
    let release!: () => void;
    let called = false;
    registry.register('database', () => {
      called = true;
      return new Promise<void>((_, reject) => (release = () => reject(new Error('down'))));
    });
    const { monitor, changes } = start(registry, { intervalMs: 1, timeoutMs: 5_000 });
    await until('the round to start', () => called);
    monitor.stop();
    release();
    // What is left of the round after the check settles runs as microtasks, all done before the next macrotask.
    await new Promise((resolve) => setImmediate(resolve));
    expect(changes).toEqual([]);
    expect(monitor.problem).toBeUndefined();
  });
});
