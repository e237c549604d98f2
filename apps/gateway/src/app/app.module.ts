import { Global, Module, type DynamicModule } from '@nestjs/common';
import { hostname } from 'node:os';
import { NatsModule } from '@fabric/platform-nats';
import { ObservabilityModule } from '@fabric/platform-observability';
import { GATEWAY_ENV, type GatewayEnv } from './gateway.config';
import { HttpModule } from './http/http.module';

@Global()
@Module({})
export class AppModule {
  static forRoot(env: GatewayEnv): DynamicModule {
    return {
      module: AppModule,
      imports: [
        ObservabilityModule.forRoot({
          app: 'gateway',
          logLevel: env.LOG_LEVEL,
          shutdownGraceMs: env.SHUTDOWN_GRACE_MS,
          drainDelayMs: env.DRAIN_DELAY_MS,
        }),
        NatsModule.forRoot({
          url: env.NATS_URL,
          name: `gateway@${hostname()}/${process.pid}`,
          jetstreamReplicas: env.JETSTREAM_REPLICAS,
        }),
        HttpModule,
      ],
      providers: [{ provide: GATEWAY_ENV, useValue: env }],
      exports: [GATEWAY_ENV],
    };
  }
}
