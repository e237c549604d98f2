import { Global, Module, RequestMethod, type DynamicModule, type OnApplicationShutdown } from '@nestjs/common';
import { TerminusModule } from '@nestjs/terminus';
import { LoggerModule } from 'nestjs-pino';
import { pino } from 'pino';
import { randomUUID } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import { AccessLog } from './access.log';
import { HealthController } from './health.controller';
import { DRAIN_OPTIONS, HttpDrain } from './http.drain';
import { MetricsRegistry } from './metrics.registry';
import { ReadinessRegistry } from './readiness.registry';
import { startTracing, type TracingHandle } from './tracing';

/** Flushes the spans still buffered once the app has stopped (its modules drained what they held). */
class TracingShutdown implements OnApplicationShutdown {
  constructor(private readonly tracing: TracingHandle) {}

  async onApplicationShutdown(): Promise<void> {
    await this.tracing.shutdown().catch(() => undefined);
  }
}

export interface ObservabilityOptions {
  /** App name, set on every log line. */
  app: string;
  logLevel: string;
  /** How long HTTP requests in progress get to finish when the app stops. */
  shutdownGraceMs: number;
  /** How long a stopping app reports not ready before it closes its port (see `HttpDrain`). */
  drainDelayMs?: number;
}

/**
 * Structured JSON logs (pino, one request id per HTTP request), Prometheus metrics, health endpoints, HTTP
 * draining, and OpenTelemetry tracing when `OTEL_EXPORTER_OTLP_ENDPOINT` is set (see `startTracing`).
 */
@Global()
@Module({})
export class ObservabilityModule {
  static forRoot(options: ObservabilityOptions): DynamicModule {
    // Written asynchronously, in batches: a write (a syscall through libuv's thread pool) per line would
    // cost an access-logged request a quarter of its CPU. Lines leave once 4 KB are buffered, or every
    // 100 ms; what is still buffered when the process exits is written synchronously then.
    const destination = pino.destination({ dest: 1, sync: false, minLength: 4096, periodicFlush: 100 });
    const logger = pino(
      {
        level: options.logLevel,
        base: { app: options.app, pid: process.pid },
        redact: ['req.headers.authorization', 'req.headers.cookie', 'req.headers["x-api-key"]'],
      },
      destination,
    );
    const access = new AccessLog(logger, destination);
    const tracing = startTracing(options.app);
    process.once('exit', () => {
      try {
        access.flush();
        destination.flushSync();
      } catch {
        // nothing buffered, or stdout already gone
      }
    });
    return {
      module: ObservabilityModule,
      imports: [
        TerminusModule.forRoot({ logger: false }),
        LoggerModule.forRoot({
          // Probes and scrapes get no request logger: they log no line anyway, and binding one enters an
          // AsyncLocalStorage, which turns on promise hooks for the whole process (a cost on every call).
          exclude: ['healthz', 'readyz', 'metrics'].map((path) => ({ path, method: RequestMethod.ALL })),
          pinoHttp: {
            logger,
            genReqId: (req: IncomingMessage) => {
              const header = req.headers['x-request-id'];
              return typeof header === 'string' && header.length <= 128 ? header : randomUUID();
            },
            // Health probes and scrapes are not worth a log line each.
            autoLogging: { ignore: (req: IncomingMessage) => /^\/(healthz|readyz|metrics)/.test(req.url ?? '') },
          },
        }),
      ],
      controllers: [HealthController],
      providers: [
        MetricsRegistry,
        ReadinessRegistry,
        { provide: AccessLog, useValue: access },
        HttpDrain,
        { provide: TracingShutdown, useValue: new TracingShutdown(tracing) },
        { provide: DRAIN_OPTIONS, useValue: { graceMs: options.shutdownGraceMs, delayMs: options.drainDelayMs } },
      ],
      exports: [MetricsRegistry, ReadinessRegistry, HttpDrain, AccessLog],
    };
  }
}
