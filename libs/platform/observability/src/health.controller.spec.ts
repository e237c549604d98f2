import { ServiceUnavailableException } from '@nestjs/common';
import { Test } from '@nestjs/testing';
import { TerminusModule } from '@nestjs/terminus';
import { HealthController } from './health.controller';
import { MetricsRegistry } from './metrics.registry';
import { ReadinessRegistry } from './readiness.registry';

describe('HealthController /readyz', () => {
  async function controllerWith(readiness: ReadinessRegistry): Promise<HealthController> {
    const moduleRef = await Test.createTestingModule({
      imports: [TerminusModule.forRoot({ logger: false })],
      controllers: [HealthController],
      providers: [
        { provide: ReadinessRegistry, useValue: readiness },
        { provide: MetricsRegistry, useValue: { text: async () => '' } },
      ],
    }).compile();
    return moduleRef.get(HealthController);
  }

  it('shows a registered detail as an up indicator carrying its object', async () => {
    const readiness = new ReadinessRegistry();
    readiness.register('nats', () => undefined);
    readiness.registerDetail('cache', () => ({ redis: 'down', localEntries: 3 }));
    const result = await (await controllerWith(readiness)).readinessCheck();
    expect(result.status).toBe('ok');
    expect(result.details).toEqual({
      process: { status: 'up' },
      nats: { status: 'up' },
      cache: { status: 'up', redis: 'down', localEntries: 3 },
    });
  });

  it('stays ready when a detail throws, and fails on a failing check whatever the details say', async () => {
    const readiness = new ReadinessRegistry();
    readiness.registerDetail('cache', () => {
      throw new Error('not readable');
    });
    const controller = await controllerWith(readiness);
    expect((await controller.readinessCheck()).details['cache']).toEqual({ status: 'up', error: 'not readable' });
    readiness.register('database', () => {
      throw new Error('connection refused');
    });
    await expect(controller.readinessCheck()).rejects.toBeInstanceOf(ServiceUnavailableException);
  });
});
