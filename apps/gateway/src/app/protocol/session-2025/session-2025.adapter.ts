import { Inject, Injectable, type OnModuleInit } from '@nestjs/common';
import { randomBytes, randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
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
import { principalKey, type Principal } from '@fabric/contracts';
import { HttpDrain } from '@fabric/platform-observability';
import { HttpRejection } from '../../http/http-rejection';
import { Authenticator } from '../../identity/authenticator';
import type { OperationContext } from '../../operations/operation';
import { Operations } from '../../operations/operations.service';
import { RPC } from '../../operations/rpc.error';
import { traceCarrierOf } from '../../operations/trace-context';
import { SessionQuota } from '../../policy/session-quota';
import { InsufficientScopeError } from '../../policy/policy.errors';
import { directRequest, type DirectRequest } from '../direct-request';
import type { AccessNote, ProtocolAdapter, RequestScope } from '../protocol.adapter';
import { ClientRequests } from './client-requests';
import { answerDirect } from './direct.exchange';
import { EventLog, GET_STREAM, parseEventId } from './event-log';
import { authInfoOf } from './principal-info';
import { SdkServerFactory, initializeResult } from './sdk-server.factory';
import { SessionRegistry, type LiveSession } from './session.registry';
import { SessionStore, type SessionRecord } from './session.store';

const SESSION_HEADER = 'mcp-session-id';
const VERSION_HEADER = 'mcp-protocol-version';

/**
 * The 2025-11-25 era (and the older revisions the SDK negotiates): `initialize` opens a session whose record
 * lives in KV, so every replica serves every request of it. The requests routed to services are answered
 * directly (no SDK server); the rest of the protocol goes through the session's SDK server.
 */
@Injectable()
export class Session2025Adapter implements ProtocolAdapter, OnModuleInit {
  constructor(
    @Inject(SessionRegistry) private readonly sessions: SessionRegistry,
    @Inject(SessionStore) private readonly store: SessionStore,
    @Inject(SdkServerFactory) private readonly factory: SdkServerFactory,
    @Inject(Operations) private readonly operations: Operations,
    @Inject(ClientRequests) private readonly clientRequests: ClientRequests,
    @Inject(EventLog) private readonly events: EventLog,
    @Inject(HttpDrain) private readonly drain: HttpDrain,
    @Inject(Authenticator) private readonly authenticator: Authenticator,
    @Inject(SessionQuota) private readonly quota: SessionQuota,
  ) {}

  onModuleInit(): void {
    // A session in use stays counted against its principal's bound; an idle one leaves the count as it expires.
    this.store.onTouched((record) => this.quota.touched(record.id, record.principal));
  }

  async post(
    req: IncomingMessage,
    res: ServerResponse,
    body: unknown,
    { note, principal }: RequestScope,
  ): Promise<void> {
    // The hot path: a call routed to a service, answered without the session's SDK server.
    const direct = directRequest(body);
    if (direct) {
      note.method = direct.method;
      note.target = direct.method === 'resources/read' ? direct.uri : direct.name;
      const record = await this.recordOf(req, note, principal);
      return this.answerDirect(req, res, direct, record, principal, note).catch((error: unknown) => {
        if (error instanceof InsufficientScopeError)
          throw this.authenticator.insufficientScope(req, error.scopes, direct.id);
        throw error;
      });
    }
    const { messages, batch } = parseMessages(body);
    const first = messages[0] as { method?: string };
    note.method = first.method ?? 'response';

    const initialize = messages.find((message): message is JSONRPCRequest & InitializeRequest =>
      isInitializeRequest(message),
    );
    if (initialize) {
      if (messages.length > 1)
        throw new HttpRejection(400, RPC.InvalidRequest, 'Invalid Request: initialize must be sent alone');
      // The session exists once its record is stored; its SDK server is built when a request needs it.
      const id = randomUUID();
      note.session = id;
      const protocolVersion = negotiate(initialize.params.protocolVersion);
      const owner = principal ? principalKey(principal) : undefined;
      const refusal = await this.quota.admit(id, owner);
      if (refusal) {
        throw new HttpRejection(refusal.reason === 'full' ? 429 : 503, RPC.ServerError, refusal.message, {
          'Retry-After': String(refusal.retryAfterSeconds),
        });
      }
      try {
        await this.sessions.persist(id, initialize.params, protocolVersion, owner);
      } catch {
        await this.quota.released(id, owner);
        throw new HttpRejection(503, RPC.InternalError, 'Session store unavailable; try again');
      }
      const answer = { jsonrpc: '2.0', id: initialize.id, result: initializeResult(protocolVersion) };
      res.writeHead(200, { [SESSION_HEADER]: id, 'Content-Type': 'application/json' }).end(JSON.stringify(answer));
      return;
    }
    const record = await this.recordOf(req, note, principal);
    const rest: JSONRPCMessage[] = [];
    for (const message of messages) {
      if (isJSONRPCNotification(message) && message.method === 'notifications/cancelled') {
        const params = message.params as { requestId?: RequestId; reason?: string } | undefined;
        if (params?.requestId !== undefined) this.sessions.cancel(record.id, params.requestId, params.reason);
        // Answers to the fabric's own requests (sampling, elicitation) go to the replica that asked.
      } else if (!this.clientRequests.accept(record.id, message)) {
        rest.push(message);
      }
    }
    // Only notifications and answers: no SDK server is needed (it would only drop them).
    if (!rest.some(isJSONRPCRequest)) {
      res.writeHead(202).end();
      return;
    }
    const session = await this.sessions.open(record);
    this.track(session, rest);
    session.transport.handlePost(res, rest, batch, {
      extra: { requestInfo: { headers: req.headers }, ...(principal ? { authInfo: authInfoOf(principal) } : {}) },
      refusal: (requestId, scopes) => this.authenticator.insufficientScope(req, scopes, requestId),
      onAbandoned: (ids) => {
        for (const id of ids) this.sessions.cancellations.cancel(session.id, id, 'client disconnected');
      },
    });
  }

  async stream(req: IncomingMessage, res: ServerResponse, { note, principal }: RequestScope): Promise<void> {
    note.method = 'GET';
    const record = await this.recordOf(req, note, principal);
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
      await this.events.resume(res, record.id, lastEventId as string, true);
      if (!res.writableEnded) res.end();
      return;
    }
    const session = await this.sessions.open(record);
    if (session.transport.hasStream) {
      throw new HttpRejection(409, RPC.ServerError, 'Conflict: only one SSE stream is allowed per session');
    }
    if (resumed) {
      await this.events.resume(res, record.id, lastEventId as string, false);
      if (res.destroyed) return;
    }
    if (!session.transport.attachStream(res)) {
      throw new HttpRejection(409, RPC.ServerError, 'Conflict: only one SSE stream is allowed per session');
    }
  }

  async remove(req: IncomingMessage, res: ServerResponse, { note, principal }: RequestScope): Promise<void> {
    note.method = 'DELETE';
    const record = await this.recordOf(req, note, principal);
    await this.sessions.delete(record.id);
    await this.quota.released(record.id, record.principal);
    res.writeHead(200).end();
  }

  /** A request routed to a service, answered as JSON (or SSE once it talks to the client). */
  private answerDirect(
    req: IncomingMessage,
    res: ServerResponse,
    request: DirectRequest,
    record: SessionRecord,
    principal: Principal | undefined,
    note: AccessNote,
  ): Promise<void> {
    const sessionId = record.id;
    return answerDirect({
      res,
      id: request.id,
      openStream: (response) => this.events.open(response, sessionId, randomBytes(4).toString('hex')),
      register: (cancel) => this.sessions.cancellations.register(sessionId, request.id, cancel),
      work: (abort, emit) => {
        const context = this.factory.contextOf(
          sessionId,
          principal,
          record.logLevel,
          request.progressToken,
          abort,
          emit,
          request.trace ?? traceCarrierOf(undefined, req.headers),
        );
        const answer = this.operate(request, context);
        // Known once the operation started (a trace of the gateway's own when the request carried none).
        note.trace = context.traceId;
        return answer;
      },
    });
  }

  /** The operation a direct request asks for. */
  private operate(request: DirectRequest, context: OperationContext): Promise<unknown> {
    switch (request.method) {
      case 'tools/call':
        return this.operations.callTool(
          {
            kind: 'tools/call',
            name: request.name,
            arguments: request.arguments,
            requestId: request.id,
            idempotencyKey: request.idempotencyKey,
          },
          context,
        );
      case 'resources/read':
        return this.operations.readResource({ kind: 'resources/read', uri: request.uri }, context);
      case 'prompts/get':
        return this.operations.getPrompt(
          { kind: 'prompts/get', name: request.name, arguments: request.arguments },
          context,
        );
    }
  }

  /** Registers the requests the SDK server is about to run, so that a cancellation reaches them. */
  private track(session: LiveSession, messages: JSONRPCMessage[]): void {
    for (const message of messages) {
      if (!isJSONRPCRequest(message)) continue;
      const requestId = message.id;
      this.sessions.cancellations.register(session.id, requestId, (reason) =>
        session.transport.receive({ jsonrpc: '2.0', method: 'notifications/cancelled', params: { requestId, reason } }),
      );
    }
  }

  /**
   * The record of the session named by the request's header: 400 without one, 404 when unknown, deleted or
   * expired, or created by another principal (to whom it does not exist).
   */
  private async recordOf(
    req: IncomingMessage,
    note: AccessNote,
    principal: Principal | undefined,
  ): Promise<SessionRecord> {
    const id = req.headers[SESSION_HEADER];
    if (typeof id !== 'string' || id.length === 0) {
      throw new HttpRejection(400, RPC.ServerError, 'Bad Request: Mcp-Session-Id header is required');
    }
    note.session = id;
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
    if (record.principal !== (principal ? principalKey(principal) : undefined)) {
      this.authenticator.count('forbidden', 'session_principal');
      throw new HttpRejection(404, RPC.SessionNotFound, 'Session not found');
    }
    return record;
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
