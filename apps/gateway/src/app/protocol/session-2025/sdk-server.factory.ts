import { Inject, Injectable, Logger } from '@nestjs/common';
import { Server } from '@modelcontextprotocol/sdk/server/index.js';
import type { RequestHandlerExtra } from '@modelcontextprotocol/sdk/shared/protocol.js';
import {
  CallToolRequestSchema,
  CancelTaskRequestSchema,
  CompleteRequestSchema,
  GetTaskPayloadRequestSchema,
  GetTaskRequestSchema,
  GetPromptRequestSchema,
  ListPromptsRequestSchema,
  ListResourceTemplatesRequestSchema,
  ListResourcesRequestSchema,
  ListTasksRequestSchema,
  ListToolsRequestSchema,
  ReadResourceRequestSchema,
  SetLevelRequestSchema,
  SubscribeRequestSchema,
  UnsubscribeRequestSchema,
  type InitializeResult,
  type ServerNotification,
  type ServerRequest,
} from '@modelcontextprotocol/sdk/types.js';
import type { LogLevel, Principal } from '@fabric/contracts';
import { Operations } from '../../operations/operations.service';
import type { OperationContext } from '../../operations/operation';
import { traceCarrierOf, type TraceCarrier } from '../../operations/trace-context';
import { RPC, RpcError } from '../../operations/rpc.error';
import { TaskOperations } from '../../operations/tasks.operations';
import { InsufficientScopeError } from '../../policy/policy.errors';
import { IDEMPOTENCY_META_KEY } from '../../routing/idempotency-key';
import { ClientRequests } from './client-requests';
import type { Emit, SignalSource } from './direct.exchange';
import { principalOfAuthInfo } from './principal-info';
import { SessionChannel } from './session.channel';
import { SessionStore } from './session.store';
import type { SessionTransport } from './session.transport';
import { SERVER_INFO } from '../../gateway.info';

/** Resource subscriptions one session may hold. */
const MAX_SUBSCRIPTIONS = 100;

export { SERVER_INFO } from '../../gateway.info';

const SERVER_CAPABILITIES = {
  tools: { listChanged: true },
  resources: { listChanged: true, subscribe: true },
  prompts: { listChanged: true },
  logging: {},
  completions: {},
  // MCP tasks: tools may be called as durable tasks (per tool, `execution.taskSupport` in tools/list).
  tasks: { list: {}, cancel: {}, requests: { tools: { call: {} } } },
};

/**
 * The answer to `initialize`, as the session's SDK server gives it (`Server._oninitialize`): answering it
 * here lets a new session exist without an SDK server until a request needs one.
 */
export function initializeResult(protocolVersion: string): InitializeResult {
  return { protocolVersion, capabilities: SERVER_CAPABILITIES, serverInfo: SERVER_INFO };
}

/**
 * Builds the SDK server of one 2025-11-25 session: the SDK parses and answers the protocol (initialize,
 * lists, completion, logging, subscriptions, batches); every request is handed to the operations.
 */
@Injectable()
export class SdkServerFactory {
  private readonly log = new Logger('McpServer');

  constructor(
    @Inject(Operations) private readonly operations: Operations,
    @Inject(TaskOperations) private readonly tasks: TaskOperations,
    @Inject(SessionStore) private readonly sessions: SessionStore,
    @Inject(ClientRequests) private readonly clientRequests: ClientRequests,
  ) {}

  /**
   * The operation context of a request in `sessionId`: its messages go on `emit` (the request's stream); it
   * continues the trace `trace` names (see `traceCarrierOf`).
   */
  contextOf(
    sessionId: string,
    principal: Principal | undefined,
    logLevel: LogLevel | undefined,
    progressToken: string | number | undefined,
    abort: SignalSource,
    emit: Emit,
    trace?: TraceCarrier,
  ): OperationContext {
    const { sessions, clientRequests } = this;
    let channel: SessionChannel | undefined;
    // Checked well formed by `traceCarrierOf`: the trace id is its second field.
    const traceparent = trace?.traceparent as string | undefined;
    const tracestate = typeof trace?.tracestate === 'string' ? trace.tracestate : undefined;
    // The signal and the channel are made only when something uses them (a call sent to a service): a call
    // answered from the cache never does.
    return {
      sessionId,
      principal,
      traceId: traceparent?.slice(3, 35),
      traceparent,
      tracestate,
      get signal() {
        return abort.signal;
      },
      get channel() {
        channel ??= new SessionChannel(sessionId, logLevel, progressToken, emit, abort, sessions, clientRequests);
        return channel;
      },
    };
  }

  create(sessionId: string): Server {
    const server = new Server(SERVER_INFO, { capabilities: SERVER_CAPABILITIES });
    // Messages of a request served by the SDK go on that request's stream.
    const contextOf = async (
      extra: RequestHandlerExtra<ServerRequest, ServerNotification>,
      meta?: { progressToken?: string | number; traceparent?: unknown; tracestate?: unknown },
    ): Promise<OperationContext> =>
      this.contextOf(
        sessionId,
        principalOfAuthInfo(extra.authInfo),
        (await this.sessions.get(sessionId))?.logLevel,
        meta?.progressToken,
        extra,
        (message) => server.transport!.send(message, { relatedRequestId: extra.requestId }),
        traceCarrierOf(meta, extra.requestInfo?.headers),
      );
    const plain = (extra: RequestHandlerExtra<ServerRequest, ServerNotification>): OperationContext => {
      const principal = principalOfAuthInfo(extra.authInfo);
      return principal ? { sessionId, principal } : { sessionId };
    };
    // A refusal for want of scopes becomes the HTTP 403 step-up challenge of the POST that carried it.
    const guarded = async <T>(
      extra: RequestHandlerExtra<ServerRequest, ServerNotification>,
      work: () => Promise<T>,
    ) => {
      try {
        return await work();
      } catch (error) {
        if (!(error instanceof InsufficientScopeError)) throw error;
        (server.transport as SessionTransport | undefined)?.refuse(extra.requestId, error.scopes);
        throw new RpcError(RPC.ServerError, `Forbidden: this needs the scope(s) ${error.scopes.join(' ')}`);
      }
    };

    server.setRequestHandler(ListToolsRequestSchema, (request, extra) =>
      this.operations.listTools({ kind: 'tools/list', cursor: request.params?.cursor }, plain(extra)),
    );
    server.setRequestHandler(ListResourcesRequestSchema, (request, extra) =>
      this.operations.listResources({ kind: 'resources/list', cursor: request.params?.cursor }, plain(extra)),
    );
    server.setRequestHandler(ListResourceTemplatesRequestSchema, (request, extra) =>
      this.operations.listResourceTemplates(
        { kind: 'resources/templates/list', cursor: request.params?.cursor },
        plain(extra),
      ),
    );
    server.setRequestHandler(ListPromptsRequestSchema, (request, extra) =>
      this.operations.listPrompts({ kind: 'prompts/list', cursor: request.params?.cursor }, plain(extra)),
    );

    server.setRequestHandler(CallToolRequestSchema, async (request, extra) =>
      guarded(extra, async () => {
        const operation = {
          kind: 'tools/call' as const,
          name: request.params.name,
          arguments: request.params.arguments,
          requestId: extra.requestId,
          idempotencyKey: request.params._meta?.[IDEMPOTENCY_META_KEY],
        };
        const context = await contextOf(extra, request.params._meta);
        const task = request.params.task;
        // A task is answered at once (CreateTaskResult); the SDK checks the answer's shape against `task`.
        return task ? this.tasks.create({ ...operation, task }, context) : this.operations.callTool(operation, context);
      }),
    );

    server.setRequestHandler(GetTaskRequestSchema, (request, extra) =>
      this.tasks.get({ kind: 'tasks/get', taskId: request.params.taskId }, plain(extra)),
    );
    // Waits for the task to end: the client's cancellation (or going away) stops the wait.
    server.setRequestHandler(GetTaskPayloadRequestSchema, (request, extra) =>
      this.tasks.result(
        { kind: 'tasks/result', taskId: request.params.taskId },
        { ...plain(extra), signal: extra.signal },
      ),
    );
    server.setRequestHandler(ListTasksRequestSchema, (request, extra) =>
      this.tasks.list({ kind: 'tasks/list', cursor: request.params?.cursor }, plain(extra)),
    );
    server.setRequestHandler(CancelTaskRequestSchema, (request, extra) =>
      this.tasks.cancel({ kind: 'tasks/cancel', taskId: request.params.taskId }, plain(extra)),
    );

    server.setRequestHandler(ReadResourceRequestSchema, async (request, extra) =>
      guarded(extra, async () =>
        this.operations.readResource(
          { kind: 'resources/read', uri: request.params.uri },
          await contextOf(extra, request.params._meta),
        ),
      ),
    );
    server.setRequestHandler(GetPromptRequestSchema, async (request, extra) =>
      guarded(extra, async () =>
        this.operations.getPrompt(
          { kind: 'prompts/get', name: request.params.name, arguments: request.params.arguments },
          await contextOf(extra, request.params._meta),
        ),
      ),
    );
    server.setRequestHandler(CompleteRequestSchema, async (request, extra) => {
      const { ref, argument, context } = request.params;
      return guarded(extra, async () =>
        this.operations.complete(
          {
            kind: 'completion/complete',
            ref: ref.type === 'ref/prompt' ? { type: ref.type, name: ref.name } : { type: ref.type, uri: ref.uri },
            argument,
            ...(context?.arguments ? { context: context.arguments } : {}),
          },
          await contextOf(extra, request.params._meta),
        ),
      );
    });

    server.setRequestHandler(SetLevelRequestSchema, async (request) => {
      await this.sessions.update(sessionId, () => ({ logLevel: request.params.level }));
      return {};
    });

    // Subscriptions live in the session record: whichever replica holds the client's stream tells it.
    server.setRequestHandler(SubscribeRequestSchema, async (request, extra) => {
      const uri = request.params.uri;
      if (!this.operations.hasResource(uri))
        throw new RpcError(RPC.ResourceNotFound, `Resource not found: ${uri}`, { uri });
      await guarded(extra, async () => this.operations.authorizeRead(uri, plain(extra)));
      const current = (await this.sessions.get(sessionId))?.subscriptions ?? [];
      // Templates match endless URIs; the record every replica copies must stay small.
      if (!current.includes(uri) && current.length >= MAX_SUBSCRIPTIONS) {
        throw new RpcError(RPC.InvalidParams, `A session can subscribe to at most ${MAX_SUBSCRIPTIONS} resources`);
      }
      await this.sessions.update(sessionId, (record) => ({
        subscriptions: [...new Set([...(record.subscriptions ?? []), uri])].slice(0, MAX_SUBSCRIPTIONS),
      }));
      return {};
    });

    server.setRequestHandler(UnsubscribeRequestSchema, async (request) => {
      const uri = request.params.uri;
      await this.sessions.update(sessionId, (record) => ({
        subscriptions: (record.subscriptions ?? []).filter((subscribed) => subscribed !== uri),
      }));
      return {};
    });

    server.onerror = (error) => this.log.warn({ err: error, sessionId }, 'MCP protocol error');
    return server;
  }
}
