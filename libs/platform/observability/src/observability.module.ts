import { Global, Module, RequestMethod, type DynamicModule } from '@nestjs/common';
import { TerminusModule } from '@nestjs/terminus';
import { LoggerModule } from 'nestjs-pino';
import { randomUUID } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import { HealthController } from './health.controller';
import { DRAIN_OPTIONS, HttpDrain } from './http.drain';
import { MetricsRegistry } from './metrics.registry';
import { ReadinessRegistry } from './readiness.registry';

export interface ObservabilityOptions {
  /** App name, set on every log line. */
  app: string;
  logLevel: string;
  /** How long HTTP requests in progress get to finish when the app stops. */
  shutdownGraceMs: number;
  /** How long a stopping app reports not ready before it closes its port (see `HttpDrain`). */
  drainDelayMs?: number;
  /**
   * Routes on the hot path (`mcp`): unless `logLevel` is `info` or finer, they get no per-request logger
   * (building one costs a tenth of a call's CPU) and thus no request-log line, which is an info line anyway.
   */
  hotRoutes?: string[];
}

/** pino's levels, finest first. */
const LEVELS = ['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent'];

/** Whether requests on hot routes get a request logger and log line at `logLevel` (info or finer). */
export function logsHotRoutes(logLevel: string): boolean {
  return LEVELS.indexOf(logLevel) <= LEVELS.indexOf('info');
}

/** Structured JSON logs (pino, one request id per HTTP request), Prometheus metrics, health endpoints and HTTP draining. */
@Global()
@Module({})
export class ObservabilityModule {
  static forRoot(options: ObservabilityOptions): DynamicModule {
    return {
      module: ObservabilityModule,
      imports: [
        TerminusModule.forRoot({ logger: false }),
        LoggerModule.forRoot({
          exclude: logsHotRoutes(options.logLevel)
            ? []
            : (options.hotRoutes ?? []).map((path) => ({ path, method: RequestMethod.ALL })),
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
      providers: [
        MetricsRegistry,
        ReadinessRegistry,
        HttpDrain,
        { provide: DRAIN_OPTIONS, useValue: { graceMs: options.shutdownGraceMs, delayMs: options.drainDelayMs } },
      ],
      exports: [MetricsRegistry, ReadinessRegistry, HttpDrain],
    };
  }
}
