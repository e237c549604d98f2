import { Global, Inject, Injectable, Module, type DynamicModule, type OnApplicationShutdown } from '@nestjs/common';
import { NatsClient, type NatsClientOptions } from './nats-client';

const NATS_OPTIONS = Symbol('NATS_OPTIONS');

/** Closes the process's NATS connection last, after every module that uses it has shut down. */
@Injectable()
class NatsLifecycle implements OnApplicationShutdown {
  constructor(@Inject(NatsClient) private readonly client: NatsClient) {}

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
