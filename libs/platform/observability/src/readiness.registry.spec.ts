import { ReadinessRegistry } from './readiness.registry';

describe('ReadinessRegistry.failing', () => {
  it('names each check that throws or rejects, with its reason, and none that pass', async () => {
    const registry = new ReadinessRegistry();
    registry.register('nats', () => undefined);
    registry.register('database', async () => {
      throw new Error('connection refused');
    });
    registry.register('cache', () => {
      throw new Error('no route');
    });
    expect((await registry.failing(1_000)).sort()).toEqual(['cache: no route', 'database: connection refused']);
  });

  it('counts a check that does not answer in time as failing', async () => {
    const registry = new ReadinessRegistry();
    registry.register('database', () => new Promise<void>(() => undefined));
    expect(await registry.failing(20)).toEqual(['database: no answer within 20 ms']);
  });

  it('is empty when every check passes', async () => {
    const registry = new ReadinessRegistry();
    registry.register('nats', async () => undefined);
    expect(await registry.failing(1_000)).toEqual([]);
  });
});

describe('ReadinessRegistry details', () => {
  it('keeps details apart from checks, so they never count as failing', async () => {
    const registry = new ReadinessRegistry();
    registry.register('nats', () => undefined);
    registry.registerDetail('cache', () => ({ redis: 'down' }));
    expect(await registry.failing(1_000)).toEqual([]);
    expect(registry.entries().map(([name]) => name)).toEqual(['nats']);
    expect(registry.detailEntries().map(([name, detail]) => [name, detail()])).toEqual([['cache', { redis: 'down' }]]);
  });
});
