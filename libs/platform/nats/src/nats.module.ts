import {
  Global,
  Inject,
  Injectable,
  Logger,
  Module,
  type DynamicModule,
  type OnApplicationShutdown,
} from '@nestjs/common';
import { MetricsRegistry, ReadinessRegistry } from '@fabric/platform-observability';
import { NatsClient, type NatsClientOptions } from './nats-client';

const NATS_OPTIONS = Symbol('NATS_OPTIONS');

/** How often the round trip to the NATS server is measured for `fabric_nats_rtt_seconds`. */
const RTT_INTERVAL_MS = 5_000;

/**
 * Reports the connection in `/readyz` and its round trip in `/metrics`; closes it last, after every module
 * that uses it has shut down.
 */
@Injectable()
class NatsLifecycle implements OnApplicationShutdown {
  private readonly rttTimer: NodeJS.Timeout;

  constructor(
    @Inject(NatsClient) private readonly client: NatsClient,
    @Inject(ReadinessRegistry) readiness: ReadinessRegistry,
    @Inject(MetricsRegistry) metrics: MetricsRegistry,
  ) {
    readiness.register('nats', () => {
      if (!this.client.isConnected()) throw new Error('NATS is not connected');
    });
    const rtt = metrics.gauge('fabric_nats_rtt_seconds', 'Round trip to the NATS server, measured every 5 s');
    const measure = () => {
      if (!this.client.isConnected()) return;
      this.client.rtt().then(
        (ms) => rtt.set(ms / 1_000),
        () => undefined,
      );
    };
    measure();
    this.rttTimer = setInterval(measure, RTT_INTERVAL_MS);
    this.rttTimer.unref();
  }

  async onApplicationShutdown(): Promise<void> {
    clearInterval(this.rttTimer);
    await this.client.drain().catch(() => this.client.close());
  }
}

/** Connects with the app's options, logging reconnects and notices (a stream's replicas changed). */
function connectLogged(options: NatsClientOptions): Promise<NatsClient> {
  const log = new Logger('Nats');
  return NatsClient.connect({
    onStatus: ({ type, data }) => {
      if (type === 'reconnect') log.log(`reconnected to ${String(data)}`);
      else log.warn(`${type}: ${data instanceof Error ? data.message : String(data)}`);
    },
    onNotice: (message) => log.log(message),
    ...options,
  });
}

/** Provides the process's one `NatsClient` to every module. */
@Global()
@Module({})
export class NatsModule {
  /** `jetstreamReplicas` is the app's `JETSTREAM_REPLICAS`: every stream and bucket it creates gets that many. */
  static forRoot(options: NatsClientOptions): DynamicModule {
    return {
      module: NatsModule,
      providers: [
        { provide: NATS_OPTIONS, useValue: options },
        { provide: NatsClient, useFactory: connectLogged, inject: [NATS_OPTIONS] },
        NatsLifecycle,
      ],
      exports: [NatsClient],
    };
  }
}
