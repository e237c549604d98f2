import {
  Inject,
  Injectable,
  Logger,
  type BeforeApplicationShutdown,
  type OnApplicationBootstrap,
} from '@nestjs/common';
import { HttpAdapterHost } from '@nestjs/core';
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import { ReadinessRegistry } from './readiness.registry';

export const DRAIN_OPTIONS = Symbol('DRAIN_OPTIONS');

export interface DrainOptions {
  /** How long requests in progress get to finish once the app is stopping. */
  graceMs: number;
  /**
   * How long a stopping app keeps accepting connections while reporting not ready, so that load balancers
   * polling readiness (and Kubernetes endpoints) take it out of rotation before its port closes.
   */
  delayMs?: number;
}

/**
 * Lets the HTTP server stop without cutting anyone off: on shutdown the app reports not ready, after the
 * drain delay stops accepting connections, asks keep-alive clients to reconnect elsewhere (`Connection: close`), ends
 * long-lived streams through the `onDrain` listeners, and waits for the requests it holds up to the grace.
 */
@Injectable()
export class HttpDrain implements OnApplicationBootstrap, BeforeApplicationShutdown {
  private readonly log = new Logger('HttpDrain');
  private readonly open = new Set<ServerResponse>();
  private readonly listeners: (() => void)[] = [];
  private idle?: () => void;
  private draining = false;

  constructor(
    @Inject(HttpAdapterHost) private readonly adapterHost: HttpAdapterHost,
    @Inject(ReadinessRegistry) private readonly readiness: ReadinessRegistry,
    @Inject(DRAIN_OPTIONS) private readonly options: DrainOptions,
  ) {}

  onApplicationBootstrap(): void {
    this.server()?.on('request', (_req: IncomingMessage, res: ServerResponse) => {
      if (this.draining) res.setHeader('connection', 'close');
      this.open.add(res);
      res.once('close', () => {
        this.open.delete(res);
        if (this.open.size === 0) this.idle?.();
      });
    });
  }

  /** Called when the app starts draining: end streams that would otherwise stay open until the grace is over. */
  onDrain(listener: () => void): void {
    this.listeners.push(listener);
  }

  /** True once the app has started draining: long-lived streams should not be opened any more. */
  get isDraining(): boolean {
    return this.draining;
  }

  /** Requests being answered now. */
  get inFlight(): number {
    return this.open.size;
  }

  async beforeApplicationShutdown(): Promise<void> {
    const server = this.server();
    if (!server || this.draining) return;
    this.draining = true;
    this.readiness.markStopping();
    if (this.options.delayMs) await new Promise((resolve) => setTimeout(resolve, this.options.delayMs));
    server.close();
    server.closeIdleConnections();
    for (const res of this.open) if (!res.headersSent) res.setHeader('connection', 'close');
    for (const listener of this.listeners) listener();
    // The streams just ended left keep-alive sockets idle: close them too, so clients reconnect elsewhere.
    setImmediate(() => server.closeIdleConnections());
    if (this.open.size === 0) return;
    this.log.log(`draining: finishing ${this.open.size} HTTP request(s)`);
    let timer: NodeJS.Timeout | undefined;
    const finished = await Promise.race([
      new Promise<true>((resolve) => (this.idle = () => resolve(true))),
      new Promise<false>((resolve) => (timer = setTimeout(() => resolve(false), this.options.graceMs))),
    ]);
    clearTimeout(timer);
    if (!finished) this.log.warn(`grace period over: closing ${this.open.size} HTTP request(s)`);
  }

  private server(): Server | undefined {
    return this.adapterHost.httpAdapter?.getHttpServer() as Server | undefined;
  }
}
