import { Global, Inject, Injectable, Module, type DynamicModule, type OnApplicationShutdown } from '@nestjs/common';
import { ReadinessRegistry } from '@fabric/platform-observability';
import { NatsClient, type NatsClientOptions } from './nats-client';

const NATS_OPTIONS = Symbol('NATS_OPTIONS');

/** Reports the connection in `/readyz`; closes it last, after every module that uses it has shut down. */
@Injectable()
class NatsLifecycle implements OnApplicationShutdown {
  constructor(
    @Inject(NatsClient) private readonly client: NatsClient,
    @Inject(ReadinessRegistry) readiness: ReadinessRegistry,
  ) {
    readiness.register('nats', () => {
      if (!this.client.isConnected()) throw new Error('NATS is not connected');
    });
  }

  async onApplicationShutdown(): Promise<void> {
    await this.client.drain().catch(() => this.client.close());
  }
}

/** Provides the process's one `NatsClient` to every module. */
@Global()
@Module({})
export class NatsModule {
  static forRoot(options: NatsClientOptions): DynamicModule {
    return {
      module: NatsModule,
      providers: [
        { provide: NATS_OPTIONS, useValue: options },
        { provide: NatsClient, useFactory: (opts: NatsClientOptions) => NatsClient.connect(opts), inject: [NATS_OPTIONS] },
        NatsLifecycle,
      ],
      exports: [NatsClient],
    };
  }
}
