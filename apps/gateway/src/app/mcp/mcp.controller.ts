import { All, Controller, Delete, Get, Inject, Logger, Post, Req, Res } from '@nestjs/common';
import type { Request, Response } from 'express';
import {
  JSONRPCMessageSchema,
  LATEST_PROTOCOL_VERSION,
  SUPPORTED_PROTOCOL_VERSIONS,
  isInitializeRequest,
  isJSONRPCNotification,
  isJSONRPCRequest,
  type InitializeRequest,
  type JSONRPCMessage,
  type JSONRPCRequest,
  type RequestId,
} from '@modelcontextprotocol/sdk/types.js';
import { HttpDrain } from '@fabric/platform-observability';
import { GATEWAY_ENV, type GatewayEnv } from '../gateway.config';
import { ClientRequests } from './client-requests';
import { EventLog, GET_STREAM, parseEventId } from './event-log';
import { RPC } from './rpc.error';
import { HttpRejection, checkAccept, checkJsonContentType, checkOriginAndHost, readBody } from './http-checks';
import { McpServerFactory } from './mcp-server.factory';
import { McpSessions, type LiveSession } from './mcp.sessions';
import { SessionStore } from './session.store';

const SESSION_HEADER = 'mcp-session-id';
const VERSION_HEADER = 'mcp-protocol-version';

/** The Streamable HTTP endpoint: POST (messages), GET (server-to-client stream), DELETE (end session). */
@Controller('mcp')
export class McpController {
  private readonly log = new Logger('McpController');

  constructor(
    @Inject(McpSessions) private readonly sessions: McpSessions,
    @Inject(SessionStore) private readonly store: SessionStore,
    @Inject(McpServerFactory) private readonly factory: McpServerFactory,
    @Inject(ClientRequests) private readonly clientRequests: ClientRequests,
    @Inject(EventLog) private readonly events: EventLog,
    @Inject(HttpDrain) private readonly drain: HttpDrain,
    @Inject(GATEWAY_ENV) private readonly env: GatewayEnv,
  ) {}

  @Post()
  async post(@Req() req: Request, @Res() res: Response): Promise<void> {
    await this.answer(res, async () => {
      checkOriginAndHost(req.headers, this.env.ALLOWED_ORIGINS, this.env.ALLOWED_HOSTS);
      checkAccept(req.headers, ['application/json', 'text/event-stream']);
      checkJsonContentType(req.headers);
      const { messages, batch } = parseMessages(await readBody(req, this.env.MAX_BODY_BYTES));

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
      const call = batch ? undefined : directToolCall(messages[0]);
      if (call) {
        await session.transport.handleDirect(res, call.id, (signal, emit) =>
          this.factory.callTool(call.params.name, call.params.arguments, {
            sessionId: session.id,
            progressToken: call.progressToken,
            signal,
            emit,
          }),
        );
        return;
      }
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

  @Get()
  async stream(@Req() req: Request, @Res() res: Response): Promise<void> {
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

  @Delete()
  async remove(@Req() req: Request, @Res() res: Response): Promise<void> {
    await this.answer(res, async () => {
      checkOriginAndHost(req.headers, this.env.ALLOWED_ORIGINS, this.env.ALLOWED_HOSTS);
      const session = await this.sessionOf(req);
      await this.sessions.delete(session.id);
      res.status(200).end();
    });
  }

  @All()
  other(@Res() res: Response): void {
    reject(res, new HttpRejection(405, RPC.ServerError, 'Method Not Allowed', { Allow: 'GET, POST, DELETE' }));
  }

  /** The live session named by the request's header: 400 without one, 404 when unknown, deleted or expired. */
  private async sessionOf(req: Request): Promise<LiveSession> {
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
    return this.sessions.open(record);
  }

  private async answer(res: Response, handle: () => Promise<void>): Promise<void> {
    try {
      await handle();
    } catch (error) {
      if (error instanceof HttpRejection) return reject(res, error);
      this.log.error({ err: error }, 'MCP request failed');
      reject(res, new HttpRejection(500, RPC.InternalError, 'Internal error'));
    }
  }
}

function reject(res: Response, rejection: HttpRejection): void {
  if (res.headersSent) {
    res.end();
    return;
  }
  res
    .status(rejection.status)
    .set(rejection.headers)
    .json({ jsonrpc: '2.0', error: { code: rejection.rpcCode, message: rejection.message }, id: null });
}

function parseMessages(body: Buffer): { messages: JSONRPCMessage[]; batch: boolean } {
  let raw: unknown;
  try {
    raw = JSON.parse(body.toString('utf8'));
  } catch {
    throw new HttpRejection(400, RPC.ParseError, 'Parse error: the body is not valid JSON');
  }
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

/**
 * A well-formed tools/call sent alone: the gateway answers it directly (JSON, or SSE once the call emits
 * something) instead of through the SDK server. Anything unusual takes the SDK's path, which also owns the
 * error answers for malformed params.
 */
function directToolCall(message: JSONRPCMessage):
  | {
      id: RequestId;
      progressToken?: string | number;
      params: { name: string; arguments?: Record<string, unknown> };
    }
  | undefined {
  if (!isJSONRPCRequest(message) || message.method !== 'tools/call') return undefined;
  const params = message.params as
    { name?: unknown; arguments?: unknown; _meta?: { progressToken?: unknown } } | undefined;
  if (!params || typeof params.name !== 'string') return undefined;
  const args = params.arguments;
  if (args !== undefined && (typeof args !== 'object' || args === null || Array.isArray(args))) return undefined;
  const progressToken = params._meta?.progressToken;
  if (progressToken !== undefined && typeof progressToken !== 'string' && typeof progressToken !== 'number')
    return undefined;
  return {
    id: message.id,
    progressToken,
    params: { name: params.name, arguments: args as Record<string, unknown> | undefined },
  };
}

/** The version the SDK server will answer `initialize` with: the client's when supported, else the latest. */
function negotiate(requested: InitializeRequest['params']['protocolVersion']): string {
  return SUPPORTED_PROTOCOL_VERSIONS.includes(requested) ? requested : LATEST_PROTOCOL_VERSION;
}
