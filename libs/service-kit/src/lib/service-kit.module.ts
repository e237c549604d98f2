import { Module, type DynamicModule, type Type } from '@nestjs/common';
import { DiscoveryModule } from '@nestjs/core';
import { NatsModule } from '@fabric/platform-nats';
import { ObservabilityModule } from '@fabric/platform-observability';
import { hostname } from 'node:os';
import { FabricServer } from './fabric.server';
import { HandlerRegistry, SERVICE_IDENTITY } from './handler.registry';
import { SERVICE_ENV, type ServiceEnv } from './kit.config';
import { INSTANCE_ID, instanceIdOf } from './instance-id';
import { ResourceNotifier } from './resource.notifier';
import { ServiceCache } from './service.cache';
import { InFlightWork } from './in-flight';
import { TaskWorker } from './task.worker';
import type { ServiceIdentity } from './manifest.builder';

/** Everything a domain service needs around its handlers: NATS, discovery, logs, metrics, health. */
@Module({})
export class ServiceKitModule {
  static forRoot(app: Type<unknown>, identity: ServiceIdentity, env: ServiceEnv): DynamicModule {
    return {
      module: ServiceKitModule,
      // The app's providers are imported by this module, not the other way round: they reach its exports globally.
      global: true,
      imports: [
        ObservabilityModule.forRoot({
          app: `${identity.service}-service`,
          logLevel: env.LOG_LEVEL,
          shutdownGraceMs: env.SHUTDOWN_GRACE_MS,
        }),
        NatsModule.forRoot({
          url: env.NATS_URL,
          name: `${identity.service}-service@${hostname()}/${process.pid}`,
          jetstreamReplicas: env.JETSTREAM_REPLICAS,
        }),
        DiscoveryModule,
        app,
      ],
      providers: [
        { provide: SERVICE_IDENTITY, useValue: identity },
        { provide: SERVICE_ENV, useValue: env },
        {
          provide: INSTANCE_ID,
          useFactory: (config: ServiceEnv) => instanceIdOf(config.INSTANCE_ID ?? identity.service, config.WORKER_INDEX),
          inject: [SERVICE_ENV],
        },
        HandlerRegistry,
        ResourceNotifier,
        ServiceCache,
        InFlightWork,
        TaskWorker,
        FabricServer,
      ],
      exports: [FabricServer, ResourceNotifier, ServiceCache],
    };
  }
}
