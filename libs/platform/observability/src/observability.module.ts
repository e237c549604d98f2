import { Global, Module, type DynamicModule } from '@nestjs/common';
import { TerminusModule } from '@nestjs/terminus';
import { LoggerModule } from 'nestjs-pino';
import { randomUUID } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import { HealthController } from './health.controller';
import { MetricsRegistry } from './metrics.registry';
import { ReadinessRegistry } from './readiness.registry';

export interface ObservabilityOptions {
  /** App name, set on every log line. */
  app: string;
  logLevel: string;
}

/** Structured JSON logs (pino, one request id per HTTP request), Prometheus metrics and health endpoints. */
@Global()
@Module({})
export class ObservabilityModule {
  static forRoot(options: ObservabilityOptions): DynamicModule {
    return {
      module: ObservabilityModule,
      imports: [
        TerminusModule.forRoot({ logger: false }),
        LoggerModule.forRoot({
          pinoHttp: {
            level: options.logLevel,
            base: { app: options.app, pid: process.pid },
            genReqId: (req: IncomingMessage) => {
              const header = req.headers['x-request-id'];
              return typeof header === 'string' && header.length <= 128 ? header : randomUUID();
            },
            // Health probes and scrapes are not worth a log line each.
            autoLogging: { ignore: (req: IncomingMessage) => /^\/(healthz|readyz|metrics)/.test(req.url ?? '') },
            redact: ['req.headers.authorization', 'req.headers.cookie'],
          },
        }),
      ],
      controllers: [HealthController],
      providers: [MetricsRegistry, ReadinessRegistry],
      exports: [MetricsRegistry, ReadinessRegistry],
    };
  }
}
