import { Inject, Injectable, Logger, type OnApplicationBootstrap } from '@nestjs/common';
import { HttpAdapterHost } from '@nestjs/core';
import { randomBytes } from 'node:crypto';
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import { AccessLog } from '@fabric/platform-observability';
import { GATEWAY_ENV, type GatewayEnv } from '../gateway.config';
import { Authenticator } from '../identity/authenticator';
import { RPC } from '../operations/rpc.error';
import { traceIdOf } from '../operations/trace-context';
import type { AccessNote } from '../protocol/protocol.adapter';
import { ProtocolRouter } from '../protocol/protocol.router';
import { checkAccept, checkJsonContentType, checkOriginAndHost, readBody } from './http-checks';
import { HttpRejection, reject } from './http-rejection';

/** The endpoint's path, with or without a trailing slash or a query string. */
export function isMcpPath(url: string | undefined): boolean {
  if (!url?.startsWith('/mcp')) return false;
  const rest = url.length === 4 ? '' : url[4];
  return rest === '' || rest === '/' || rest === '?';
}

/** Characters of the session id in an access line: enough to find the session, not enough to use it. */
const SESSION_PREFIX = 8;

/** Request ids made up here: this process's prefix and a counter (a random UUID per request costs more). */
const REQUEST_ID_PREFIX = `${randomBytes(4).toString('hex')}-`;
let requestCount = 0;

/**
 * The MCP endpoint on Node's HTTP server, ahead of Nest's Express app (which keeps every other route:
 * health, readiness, metrics): Express's routing, middleware and response helpers would cost as much CPU
 * per tools/call as the rest of the gateway's work. It checks the headers, reads the body, hands the
 * request to the protocol layer and writes one compact access line per request. It knows no MCP method.
 */

/** What a client must accept (constant lists: `checkAccept` remembers its verdicts per list). */
const POST_ACCEPTS = ['application/json', 'text/event-stream'];
const GET_ACCEPTS = ['text/event-stream'];
@Injectable()
export class McpEndpoint implements OnApplicationBootstrap {
  private readonly log = new Logger('McpEndpoint');

  constructor(
    @Inject(HttpAdapterHost) private readonly adapterHost: HttpAdapterHost,
    @Inject(ProtocolRouter) private readonly protocol: ProtocolRouter,
    @Inject(AccessLog) private readonly access: AccessLog,
    @Inject(GATEWAY_ENV) private readonly env: GatewayEnv,
    @Inject(Authenticator) private readonly authenticator: Authenticator,
  ) {}

  /**
   * Replaces the Express app among the server's request listeners, after the others (the drain's
   * bookkeeping must see a request before it is answered), and hands it every request not for the endpoint.
   */
  onApplicationBootstrap(): void {
    const server = this.adapterHost.httpAdapter?.getHttpServer() as Server | undefined;
    if (!server) return;
    const app = this.adapterHost.httpAdapter.getInstance() as (req: IncomingMessage, res: ServerResponse) => void;
    if (!server.listeners('request').includes(app)) {
      throw new Error('the HTTP server does not serve the Nest app: cannot put the MCP endpoint in front of it');
    }
    server.removeListener('request', app);
    server.on('request', (req: IncomingMessage, res: ServerResponse) => {
      if (isMcpPath(req.url)) void this.handle(req, res);
      else app(req, res);
    });
  }

  /** Answers one request to the endpoint, whatever its method. */
  async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const note: AccessNote = {};
    if (this.access.enabled) this.logAccess(req, res, note);
    try {
      checkOriginAndHost(req.headers, this.env.ALLOWED_ORIGINS, this.env.ALLOWED_HOSTS);
      // Once per request, before its body is read: an unauthenticated client costs no parsing.
      const principal = await this.authenticator.authenticate(req).catch((error: unknown) => {
        req.resume();
        throw error;
      });
      switch (req.method) {
        case 'POST': {
          checkAccept(req.headers, POST_ACCEPTS);
          checkJsonContentType(req.headers);
          const body = parseJson(await readBody(req, this.env.MAX_BODY_BYTES, this.env.BODY_TIMEOUT_MS));
          return await this.protocol.post(req, res, body, { note, principal });
        }
        case 'GET':
          checkAccept(req.headers, GET_ACCEPTS);
          return await this.protocol.stream(req, res, { note, principal });
        case 'DELETE':
          return await this.protocol.remove(req, res, { note, principal });
        default:
          req.resume();
          throw new HttpRejection(405, RPC.ServerError, 'Method Not Allowed', { Allow: 'GET, POST, DELETE' });
      }
    } catch (error) {
      if (error instanceof HttpRejection) return this.rejected(req, res, error);
      this.log.error({ err: error }, 'MCP request failed');
      reject(res, new HttpRejection(500, RPC.InternalError, 'Internal error'));
    }
  }

  private rejected(req: IncomingMessage, res: ServerResponse, rejection: HttpRejection): void {
    reject(res, rejection);
    // A client that would not send its body in time does not keep the connection.
    if (rejection.status === 408) res.once('finish', () => req.socket.destroy());
  }

  /** One line when the response is over (answered, streamed to its end, or abandoned by the client). */
  private logAccess(req: IncomingMessage, res: ServerResponse, note: AccessNote): void {
    const started = performance.now();
    const header = req.headers['x-request-id'];
    const id =
      typeof header === 'string' && header.length <= 128 ? header : REQUEST_ID_PREFIX + (++requestCount).toString(36);
    res.once('close', () => {
      this.access.write({
        req: id,
        http: req.method ?? '',
        mcp: note.method,
        target: note.target,
        status: res.writableFinished ? res.statusCode : 499,
        ms: Math.round((performance.now() - started) * 100) / 100,
        session: note.session?.slice(0, SESSION_PREFIX),
        // The operation's trace, else the one the HTTP request names (so that it shows with tracing off too).
        trace: note.trace ?? traceIdOf(req.headers.traceparent),
      });
    });
  }
}

function parseJson(body: Buffer): unknown {
  try {
    return JSON.parse(body.toString('utf8'));
  } catch {
    throw new HttpRejection(400, RPC.ParseError, 'Parse error: the body is not valid JSON');
  }
}
