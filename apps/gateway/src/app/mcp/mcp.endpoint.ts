import { Inject, Injectable, Logger, type OnApplicationBootstrap } from '@nestjs/common';
import { HttpAdapterHost } from '@nestjs/core';
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import {
  JSONRPCMessageSchema,
  LATEST_PROTOCOL_VERSION,
  SUPPORTED_PROTOCOL_VERSIONS,
  isInitializeRequest,
  isJSONRPCNotification,
  type InitializeRequest,
  type JSONRPCMessage,
  type JSONRPCRequest,
  type RequestId,
} from '@modelcontextprotocol/sdk/types.js';
import { HttpDrain, logsHotRoutes } from '@fabric/platform-observability';
import { GATEWAY_ENV, type GatewayEnv } from '../gateway.config';
import { ClientRequests } from './client-requests';
import { directRequest } from './direct-request';
import { EventLog, GET_STREAM, parseEventId } from './event-log';
import { RPC } from './rpc.error';
import { HttpRejection, checkAccept, checkJsonContentType, checkOriginAndHost, readBody } from './http-checks';
import { McpServerFactory } from './mcp-server.factory';
import { McpSessions, type LiveSession } from './mcp.sessions';
import { SessionStore, type SessionRecord } from './session.store';

const SESSION_HEADER = 'mcp-session-id';
const VERSION_HEADER = 'mcp-protocol-version';
const JSON_HEADERS = { 'Content-Type': 'application/json' };

/** The endpoint's path, with or without a trailing slash or a query string. */
export function isMcpPath(url: string | undefined): boolean {
  if (!url?.startsWith('/mcp')) return false;
  const rest = url.length === 4 ? '' : url[4];
  return rest === '' || rest === '/' || rest === '?';
}

/**
 * The Streamable HTTP endpoint: POST (messages), GET (server-to-client stream), DELETE (end session).
 *
 * Unless requests are logged (LOG_LEVEL info or finer: pino-http's request logger is Express middleware),
 * it answers on the HTTP server directly, in front of Nest's Express app, which keeps every other route
 * (health, readiness, metrics). Express's routing, middleware and response helpers cost as much CPU per
 * tools/call as the rest of the gateway's work. With request logs, `McpController` routes to it.
 */
@Injectable()
export class McpEndpoint implements OnApplicationBootstrap {
  private readonly log = new Logger('McpEndpoint');

  constructor(
    @Inject(HttpAdapterHost) private readonly adapterHost: HttpAdapterHost,
    @Inject(McpSessions) private readonly sessions: McpSessions,
    @Inject(SessionStore) private readonly store: SessionStore,
    @Inject(McpServerFactory) private readonly factory: McpServerFactory,
    @Inject(ClientRequests) private readonly clientRequests: ClientRequests,
    @Inject(EventLog) private readonly events: EventLog,
    @Inject(HttpDrain) private readonly drain: HttpDrain,
    @Inject(GATEWAY_ENV) private readonly env: GatewayEnv,
  ) {}

  /**
   * Replaces the Express app among the server's request listeners, after the others (the drain's
   * bookkeeping must see a request before it is answered), and hands it every request not for the endpoint.
   */
  onApplicationBootstrap(): void {
    if (logsHotRoutes(this.env.LOG_LEVEL)) return;
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
  handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    switch (req.method) {
      case 'POST':
        return this.post(req, res);
      case 'GET':
        return this.stream(req, res);
      case 'DELETE':
        return this.remove(req, res);
      default:
        reject(res, new HttpRejection(405, RPC.ServerError, 'Method Not Allowed', { Allow: 'GET, POST, DELETE' }));
        req.resume();
        return Promise.resolve();
    }
  }

  async post(req: IncomingMessage, res: ServerResponse): Promise<void> {
    await this.answer(res, async () => {
      checkOriginAndHost(req.headers, this.env.ALLOWED_ORIGINS, this.env.ALLOWED_HOSTS);
      checkAccept(req.headers, ['application/json', 'text/event-stream']);
      checkJsonContentType(req.headers);
      const body = parseJson(await readBody(req, this.env.MAX_BODY_BYTES));
      // The hot path: a call routed to a service, answered without the session's SDK server.
      const direct = directRequest(body);
      if (direct) {
        const record = await this.recordOf(req);
        const session = await this.sessions.open(record);
        await session.transport.handleDirect(res, direct.id, (signal, emit) =>
          this.factory.runDirect(direct, {
            sessionId: session.id,
            logLevel: record.logLevel,
            progressToken: direct.progressToken,
            signal,
            emit,
          }),
        );
        return;
      }
      const { messages, batch } = parseMessages(body);

      const initialize = messages.find((message): message is JSONRPCRequest & InitializeRequest =>
        isInitializeRequest(message),
      );
      if (initialize) {
        if (messages.length > 1)
          throw new HttpRejection(400, RPC.InvalidRequest, 'Invalid Request: initialize must be sent alone');
        const session = await this.sessions.create();
        const protocolVersion = negotiate(initialize.params.protocolVersion);
        session.transport.handlePost(res, messages, batch, {
          headers: { [SESSION_HEADER]: session.id },
          beforeFirstWrite: () => this.sessions.persist(session.id, initialize.params, protocolVersion),
        });
        return;
      }
      const session = await this.sessionOf(req);
      for (const message of messages) {
        if (isJSONRPCNotification(message) && message.method === 'notifications/cancelled') {
          const params = message.params as { requestId?: RequestId; reason?: string } | undefined;
          if (params?.requestId !== undefined) this.sessions.forwardCancel(session.id, params.requestId, params.reason);
        }
      }
      // Answers to the fabric's own requests (sampling, elicitation) go to the replica that asked.
      const rest = messages.filter((message) => !this.clientRequests.accept(session.id, message));
      session.transport.handlePost(res, rest, batch, { extra: { requestInfo: { headers: req.headers } } });
    });
  }

  async stream(req: IncomingMessage, res: ServerResponse): Promise<void> {
    await this.answer(res, async () => {
      checkOriginAndHost(req.headers, this.env.ALLOWED_ORIGINS, this.env.ALLOWED_HOSTS);
      checkAccept(req.headers, ['text/event-stream']);
      const session = await this.sessionOf(req);
      if (this.drain.isDraining) {
        throw new HttpRejection(503, RPC.ServerError, 'Service Unavailable: this replica is stopping; reconnect', {
          'Retry-After': '1',
          Connection: 'close',
        });
      }
      const lastEventId = req.headers['last-event-id'];
      const resumed = typeof lastEventId === 'string' ? parseEventId(lastEventId) : undefined;
      // Resuming a POST's stream replays (and follows to its end) what that stream sent after the id.
      if (resumed && resumed.stream !== GET_STREAM) {
        await this.events.resume(res, session.id, lastEventId as string, true);
        if (!res.writableEnded) res.end();
        return;
      }
      if (session.transport.hasStream) {
        throw new HttpRejection(409, RPC.ServerError, 'Conflict: only one SSE stream is allowed per session');
      }
      if (resumed) {
        await this.events.resume(res, session.id, lastEventId as string, false);
        if (res.destroyed) return;
      }
      if (!session.transport.attachStream(res)) {
        throw new HttpRejection(409, RPC.ServerError, 'Conflict: only one SSE stream is allowed per session');
      }
    });
  }

  async remove(req: IncomingMessage, res: ServerResponse): Promise<void> {
    await this.answer(res, async () => {
      checkOriginAndHost(req.headers, this.env.ALLOWED_ORIGINS, this.env.ALLOWED_HOSTS);
      const session = await this.sessionOf(req);
      await this.sessions.delete(session.id);
      res.writeHead(200).end();
    });
  }

  /** The live session named by the request's header: 400 without one, 404 when unknown, deleted or expired. */
  private async sessionOf(req: IncomingMessage): Promise<LiveSession> {
    return this.sessions.open(await this.recordOf(req));
  }

  /** The record of the session named by the request's header (see `sessionOf`). */
  private async recordOf(req: IncomingMessage): Promise<SessionRecord> {
    const id = req.headers[SESSION_HEADER];
    if (typeof id !== 'string' || id.length === 0) {
      throw new HttpRejection(400, RPC.ServerError, 'Bad Request: Mcp-Session-Id header is required');
    }
    const version = req.headers[VERSION_HEADER];
    if (typeof version === 'string' && !SUPPORTED_PROTOCOL_VERSIONS.includes(version)) {
      throw new HttpRejection(
        400,
        RPC.ServerError,
        `Bad Request: unsupported protocol version ${version} (supported: ${SUPPORTED_PROTOCOL_VERSIONS.join(', ')})`,
      );
    }
    const record = await this.store.get(id);
    if (!record) throw new HttpRejection(404, RPC.SessionNotFound, 'Session not found');
    return record;
  }

  private async answer(res: ServerResponse, handle: () => Promise<void>): Promise<void> {
    try {
      await handle();
    } catch (error) {
      if (error instanceof HttpRejection) return reject(res, error);
      this.log.error({ err: error }, 'MCP request failed');
      reject(res, new HttpRejection(500, RPC.InternalError, 'Internal error'));
    }
  }
}

function reject(res: ServerResponse, rejection: HttpRejection): void {
  if (res.headersSent) {
    res.end();
    return;
  }
  const body = JSON.stringify({
    jsonrpc: '2.0',
    error: { code: rejection.rpcCode, message: rejection.message },
    id: null,
  });
  res.writeHead(rejection.status, { ...rejection.headers, ...JSON_HEADERS }).end(body);
}

function parseJson(body: Buffer): unknown {
  try {
    return JSON.parse(body.toString('utf8'));
  } catch {
    throw new HttpRejection(400, RPC.ParseError, 'Parse error: the body is not valid JSON');
  }
}

function parseMessages(raw: unknown): { messages: JSONRPCMessage[]; batch: boolean } {
  const batch = Array.isArray(raw);
  const items = batch ? (raw as unknown[]) : [raw];
  if (items.length === 0) throw new HttpRejection(400, RPC.InvalidRequest, 'Invalid Request: empty batch');
  const messages: JSONRPCMessage[] = [];
  for (const item of items) {
    const parsed = JSONRPCMessageSchema.safeParse(item);
    if (!parsed.success)
      throw new HttpRejection(400, RPC.InvalidRequest, 'Invalid Request: not a JSON-RPC 2.0 message');
    messages.push(parsed.data);
  }
  return { messages, batch };
}

/** The version the SDK server will answer `initialize` with: the client's when supported, else the latest. */
function negotiate(requested: InitializeRequest['params']['protocolVersion']): string {
  return SUPPORTED_PROTOCOL_VERSIONS.includes(requested) ? requested : LATEST_PROTOCOL_VERSION;
}
