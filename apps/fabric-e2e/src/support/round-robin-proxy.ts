import {
  createServer,
  request,
  type IncomingHttpHeaders,
  type IncomingMessage,
  type Server,
  type ServerResponse,
} from 'node:http';
import type { AddressInfo } from 'node:net';

/** Hop-by-hop headers a proxy must not forward. */
const HOP_BY_HOP = new Set([
  'connection',
  'keep-alive',
  'proxy-connection',
  'transfer-encoding',
  'upgrade',
  'te',
  'trailer',
]);

/**
 * A plain round-robin HTTP load balancer, as nginx or a Kubernetes Service sits in front of gateways: every
 * request goes to the next backend on a new connection (no stickiness, no keep-alive to backends). Like
 * any production balancer it polls each backend's readiness and skips those not ready (a draining
 * replica), and skips a backend that refuses the connection. A backend that dies mid-response cuts that
 * response, as a real one does.
 */
export class RoundRobinProxy {
  /** Requests each backend answered. */
  readonly served = new Map<string, number>();
  private readonly notReady = new Set<string>();
  private next = 0;
  private readonly probe: NodeJS.Timeout;

  private constructor(
    private readonly server: Server,
    private backends: string[],
    healthPath: string,
    intervalMs: number,
  ) {
    this.probe = setInterval(() => void this.checkHealth(healthPath), intervalMs);
  }

  static async start(
    backends: string[],
    options: { healthPath?: string; intervalMs?: number } = {},
  ): Promise<RoundRobinProxy> {
    const server = createServer();
    const proxy = new RoundRobinProxy(server, backends, options.healthPath ?? '/readyz', options.intervalMs ?? 100);
    server.on('request', (req: IncomingMessage, res: ServerResponse) => void proxy.forward(req, res));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    return proxy;
  }

  get url(): string {
    return `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  /** Replaces the backends (base URLs such as `http://127.0.0.1:1234`). */
  setBackends(backends: string[]): void {
    this.backends = [...backends];
  }

  async close(): Promise<void> {
    clearInterval(this.probe);
    this.server.closeAllConnections();
    await new Promise((resolve) => this.server.close(resolve));
  }

  private async forward(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const body = Buffer.concat(chunks);
    const headers = forwardable(req.headers);
    if (body.length > 0) headers['content-length'] = String(body.length);

    // Fail open: when no backend looks ready, try them all rather than none.
    const ready = this.backends.filter((backend) => !this.notReady.has(backend));
    const backends = ready.length > 0 ? ready : this.backends;
    const first = this.next++;
    for (let attempt = 0; attempt < backends.length; attempt++) {
      const backend = backends[(first + attempt) % backends.length];
      const outcome = await this.tryBackend(backend, req, res, headers, body);
      if (outcome !== 'refused') return;
    }
    if (!res.headersSent)
      res.writeHead(502, { 'content-type': 'text/plain' }).end('no backend accepted the connection');
  }

  private async checkHealth(path: string): Promise<void> {
    await Promise.all(
      this.backends.map(async (backend) => {
        const ok = await fetch(`${backend}${path}`, { signal: AbortSignal.timeout(1_000) }).then(
          (response) => response.ok,
          () => false,
        );
        if (ok) this.notReady.delete(backend);
        else this.notReady.add(backend);
      }),
    );
  }

  private tryBackend(
    backend: string,
    req: IncomingMessage,
    res: ServerResponse,
    headers: IncomingHttpHeaders,
    body: Buffer,
  ): Promise<'refused' | 'done'> {
    return new Promise((resolve) => {
      const upstream = request(
        `${backend}${req.url ?? '/'}`,
        { method: req.method, headers, agent: false },
        (response) => {
          this.served.set(backend, (this.served.get(backend) ?? 0) + 1);
          res.writeHead(response.statusCode ?? 502, forwardable(response.headers));
          response.pipe(res);
          response.on('error', () => res.destroy());
          response.on('end', () => resolve('done'));
        },
      );
      // The client went away before its answer was complete: stop the request upstream too.
      res.once('close', () => {
        if (!res.writableFinished) upstream.destroy();
        resolve('done');
      });
      upstream.on('error', (error: NodeJS.ErrnoException) => {
        if (error.code === 'ECONNREFUSED') return resolve('refused');
        if (res.headersSent) res.destroy();
        else res.writeHead(502, { 'content-type': 'text/plain' }).end(`backend failed: ${error.code ?? error.message}`);
        resolve('done');
      });
      upstream.end(body);
    });
  }
}

function forwardable(headers: IncomingHttpHeaders): IncomingHttpHeaders {
  const copy: IncomingHttpHeaders = {};
  for (const [name, value] of Object.entries(headers)) if (!HOP_BY_HOP.has(name)) copy[name] = value;
  return copy;
}
