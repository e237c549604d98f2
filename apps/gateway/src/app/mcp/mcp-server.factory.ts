import { Inject, Injectable, Logger } from '@nestjs/common';
import { Server } from '@modelcontextprotocol/sdk/server/index.js';
import { UriTemplate } from '@modelcontextprotocol/sdk/shared/uriTemplate.js';
import type { RequestHandlerExtra } from '@modelcontextprotocol/sdk/shared/protocol.js';
import {
  CallToolRequestSchema,
  CallToolResultSchema,
  CompleteRequestSchema,
  GetPromptRequestSchema,
  ListPromptsRequestSchema,
  ListResourceTemplatesRequestSchema,
  ListResourcesRequestSchema,
  ListToolsRequestSchema,
  ReadResourceRequestSchema,
  SetLevelRequestSchema,
  SubscribeRequestSchema,
  UnsubscribeRequestSchema,
  type CallToolResult,
  type CompleteResult,
  type GetPromptResult,
  type ReadResourceResult,
  type ServerNotification,
  type ServerRequest,
} from '@modelcontextprotocol/sdk/types.js';
import {
  CompletionResultSchema,
  FabricError,
  logLevelAllows,
  type CallRequest,
  type JsonSchema,
  type LogLevel,
} from '@fabric/contracts';
import { MetricsRegistry } from '@fabric/platform-observability';
import { CatalogService } from '../catalog/catalog.service';
import type { CatalogSnapshot, CatalogTemplate } from '../catalog/catalog.snapshot';
import { GATEWAY_ENV, type GatewayEnv } from '../gateway.config';
import type { CallListener } from '../routing/call-events';
import { IDEMPOTENCY_META_KEY, idempotencyKeyOf } from '../routing/idempotency-key';
import { ServiceClient } from '../routing/service.client';
import { ArgumentValidator } from './argument.validator';
import { ClientRequests, type Emit } from './client-requests';
import type { DirectRequest } from './direct-request';
import { isTextResult } from './text-result';
import { paginate } from './pagination';
import { RPC, RpcError } from './rpc.error';
import { SessionStore } from './session.store';

/** The session and request a service call serves, and how to reach the client while it runs. */
export interface RequestContext {
  sessionId: string;
  /** The session's log level when the caller has its record at hand (read from the store otherwise). */
  logLevel?: LogLevel;
  progressToken?: string | number;
  signal?: AbortSignal;
  /** Writes on the request's stream; without it the call cannot talk to the client. */
  emit?: Emit;
  /** JSON-RPC id of the request, and the client's `_meta.idempotencyKey`: they name a tools/call's execution. */
  requestId?: string | number;
  idempotencyKey?: unknown;
}

/** Resource subscriptions one session may hold. */
const MAX_SUBSCRIPTIONS = 100;

export const SERVER_INFO = { name: 'mcp-fabric', title: 'MCP Fabric', version: '0.1.0' } as const;

/** Protocol error of a failed resource/prompt/completion call (tools report failures as `isError` results). */
function toRpcError(error: unknown): RpcError {
  if (error instanceof RpcError) return error;
  if (error instanceof FabricError) {
    switch (error.code) {
      case 'NOT_FOUND':
      case 'INVALID_ARGUMENT':
        return new RpcError(RPC.InvalidParams, error.message);
      default:
        return new RpcError(RPC.InternalError, error.message);
    }
  }
  return new RpcError(RPC.InternalError, 'Internal error');
}

/** Builds the SDK server of one session: every MCP method answered from the catalog or routed to a service. */
@Injectable()
export class McpServerFactory {
  private readonly log = new Logger('McpServer');
  private readonly toolCalls;
  private readonly toolDuration;
  private readonly templateCache = new WeakMap<CatalogTemplate, UriTemplate>();

  constructor(
    @Inject(CatalogService) private readonly catalog: CatalogService,
    @Inject(ServiceClient) private readonly services: ServiceClient,
    @Inject(SessionStore) private readonly sessions: SessionStore,
    @Inject(ArgumentValidator) private readonly validator: ArgumentValidator,
    @Inject(ClientRequests) private readonly clientRequests: ClientRequests,
    @Inject(GATEWAY_ENV) private readonly env: GatewayEnv,
    @Inject(MetricsRegistry) metrics: MetricsRegistry,
  ) {
    this.toolCalls = metrics.counter('fabric_gateway_tool_calls_total', 'tools/call requests by tool and outcome', [
      'tool',
      'outcome',
    ]);
    this.toolDuration = metrics.histogram('fabric_gateway_tool_call_seconds', 'tools/call latency at the gateway', [
      'tool',
    ]);
  }

  /**
   * tools/call: an unknown tool is a protocol error (`RpcError`); invalid arguments and every failure of
   * the call are tool results with `isError`. Shared by the SDK server and the gateway's direct path.
   */
  async callTool(
    name: string,
    args: Record<string, unknown> | undefined,
    context: RequestContext,
  ): Promise<CallToolResult> {
    const tool = this.catalog.snapshot.tool(name);
    if (!tool) throw new RpcError(RPC.InvalidParams, `Unknown tool: ${name}`);
    const input = args ?? {};
    const invalid = this.validator.validate(tool.descriptor.inputSchema, input);
    if (invalid) {
      this.toolCalls.inc({ tool: name, outcome: 'INVALID_ARGUMENT' });
      return { isError: true, content: [{ type: 'text', text: `Invalid arguments for tool ${name}: ${invalid}` }] };
    }
    const stopTimer = this.toolDuration.startTimer({ tool: name });
    const idempotent =
      tool.descriptor.annotations?.readOnlyHint === true || tool.descriptor.annotations?.idempotentHint === true;
    try {
      const reply = await this.services.call({
        service: tool.service,
        operation: 'tools.call',
        name: tool.descriptor.name,
        idempotent,
        // A request that arrives again (re-sent by a proxy, retried by the client) must not run again.
        idempotencyKey: idempotent ? undefined : idempotencyKeyOf(context),
        arguments: input,
        timeoutMs: tool.descriptor.timeoutMs ?? this.env.TOOL_TIMEOUT_MS,
        ...(await this.backChannel(context)),
      });
      const result = this.checkToolResult(name, tool.descriptor.outputSchema, reply);
      this.toolCalls.inc({ tool: name, outcome: result.isError ? 'TOOL_ERROR' : 'ok' });
      return result;
    } catch (error) {
      const failure = error instanceof FabricError ? error : new FabricError('INTERNAL', 'Internal error');
      this.toolCalls.inc({ tool: name, outcome: failure.code });
      const hint = failure.retryable ? ' (retryable)' : '';
      return { isError: true, content: [{ type: 'text', text: `${failure.message}${hint}` }] };
    } finally {
      stopTimer();
    }
  }

  /** resources/read: a fixed resource or the first matching template; unknown URIs are ResourceNotFound. */
  async readResource(uri: string, context: RequestContext): Promise<ReadResourceResult> {
    const target = this.resolveResource(this.catalog.snapshot, uri);
    if (!target) throw new RpcError(RPC.ResourceNotFound, `Resource not found: ${uri}`, { uri });
    try {
      return (await this.services.call({
        service: target.service,
        operation: 'resources.read',
        idempotent: true,
        name: target.name,
        uri,
        ...(target.params ? { params: target.params } : {}),
        timeoutMs: target.timeoutMs ?? this.env.TOOL_TIMEOUT_MS,
        ...(await this.backChannel(context)),
      })) as ReadResourceResult;
    } catch (error) {
      if (error instanceof FabricError && error.code === 'NOT_FOUND')
        throw new RpcError(RPC.ResourceNotFound, error.message, { uri });
      throw toRpcError(error);
    }
  }

  /** prompts/get: unknown prompts and missing required arguments are InvalidParams. */
  async getPrompt(
    name: string,
    args: Record<string, string> | undefined,
    context: RequestContext,
  ): Promise<GetPromptResult> {
    const prompt = this.catalog.snapshot.prompt(name);
    if (!prompt) throw new RpcError(RPC.InvalidParams, `Unknown prompt: ${name}`);
    const missing = prompt.descriptor.arguments.filter((arg) => arg.required && args?.[arg.name] === undefined);
    if (missing.length > 0) {
      throw new RpcError(
        RPC.InvalidParams,
        `Missing required argument(s) for prompt ${name}: ${missing.map((arg) => arg.name).join(', ')}`,
      );
    }
    try {
      return (await this.services.call({
        service: prompt.service,
        operation: 'prompts.get',
        idempotent: true,
        name: prompt.descriptor.name,
        arguments: args ?? {},
        timeoutMs: prompt.descriptor.timeoutMs ?? this.env.TOOL_TIMEOUT_MS,
        ...(await this.backChannel(context)),
      })) as GetPromptResult;
    } catch (error) {
      throw toRpcError(error);
    }
  }

  /** Answers a request of the gateway's direct path (see `directRequest`). */
  runDirect(request: DirectRequest, context: RequestContext): Promise<unknown> {
    if (request.method === 'tools/call') {
      const { id: requestId, idempotencyKey } = request;
      return this.callTool(request.name, request.arguments, { ...context, requestId, idempotencyKey });
    }
    if (request.method === 'resources/read') return this.readResource(request.uri, context);
    return this.getPrompt(request.name, request.arguments, context);
  }

  /**
   * What a service call needs to talk to the client: the session, progress token, the client's log level,
   * and a listener that relays the call's progress, logs and requests (sampling, elicitation) on `emit`.
   */
  private async backChannel(context: RequestContext): Promise<{
    sessionId: string;
    progressToken?: string | number;
    signal?: AbortSignal;
    logLevel?: LogLevel;
    listener?: CallListener;
  }> {
    const { sessionId, progressToken, signal, emit } = context;
    // The record was validated when read; its log level is a LogLevel already.
    const logLevel = 'logLevel' in context ? context.logLevel : (await this.sessions.get(sessionId))?.logLevel;
    if (!emit) return { sessionId, progressToken, signal, logLevel };
    const listener: CallListener = {
      event: async (event) => {
        if (event.type === 'progress') {
          if (progressToken === undefined) return;
          const { type: _type, ...progress } = event;
          await emit({ jsonrpc: '2.0', method: 'notifications/progress', params: { progressToken, ...progress } });
          return;
        }
        // The level may have changed since the call started (logging/setLevel on any replica).
        const current = (await this.sessions.get(sessionId))?.logLevel;
        if (!logLevelAllows(current, event.level)) return;
        const { type: _type, ...message } = event;
        await emit({ jsonrpc: '2.0', method: 'notifications/message', params: message });
      },
      request: (request, callEnded) =>
        this.clientRequests.send(sessionId, request, emit, signal ? AbortSignal.any([signal, callEnded]) : callEnded),
    };
    return { sessionId, progressToken, signal, logLevel, listener };
  }

  /**
   * A service's tool result as the client may see it: MCP-shaped, and with structured content that matches
   * the tool's output schema. Anything else is the service's bug, reported as a tool error.
   */
  private checkToolResult(name: string, outputSchema: JsonSchema | undefined, reply: unknown): CallToolResult {
    let result: CallToolResult;
    if (isTextResult(reply)) {
      result = reply;
    } else {
      const parsed = CallToolResultSchema.safeParse(reply);
      if (!parsed.success) {
        this.log.warn({ tool: name }, 'a service returned a malformed tool result');
        return { isError: true, content: [{ type: 'text', text: `Tool ${name} returned a malformed result` }] };
      }
      result = parsed.data;
    }
    if (!outputSchema || result.isError) return result;
    const invalid =
      result.structuredContent === undefined
        ? 'no structured content'
        : this.validator.validate(outputSchema, result.structuredContent);
    if (!invalid) return result;
    this.log.warn({ tool: name, problem: invalid }, 'a tool result does not match its output schema');
    return {
      isError: true,
      content: [
        { type: 'text', text: `Tool ${name} returned a result that does not match its output schema: ${invalid}` },
      ],
    };
  }

  create(sessionId: string): Server {
    const server = new Server(SERVER_INFO, {
      capabilities: {
        tools: { listChanged: true },
        resources: { listChanged: true, subscribe: true },
        prompts: { listChanged: true },
        logging: {},
        completions: {},
      },
    });
    const pageSize = this.env.LIST_PAGE_SIZE;

    server.setRequestHandler(ListToolsRequestSchema, (request) => {
      const { page, nextCursor } = paginate(this.catalog.snapshot.tools, request.params?.cursor, pageSize);
      return {
        tools: page.map(({ publicName, descriptor }) => ({
          name: publicName,
          ...(descriptor.title ? { title: descriptor.title } : {}),
          ...(descriptor.description ? { description: descriptor.description } : {}),
          inputSchema: descriptor.inputSchema as { type: 'object' },
          ...(descriptor.outputSchema ? { outputSchema: descriptor.outputSchema as { type: 'object' } } : {}),
          ...(descriptor.annotations ? { annotations: descriptor.annotations } : {}),
          ...(descriptor.icons ? { icons: descriptor.icons } : {}),
        })),
        ...(nextCursor ? { nextCursor } : {}),
      };
    });

    // Messages of a request served by the SDK go on that request's stream.
    const contextOf = (
      extra: RequestHandlerExtra<ServerRequest, ServerNotification>,
      progressToken?: string | number,
    ): RequestContext => ({
      sessionId,
      progressToken,
      signal: extra.signal,
      emit: (message) => server.transport!.send(message, { relatedRequestId: extra.requestId }),
    });

    server.setRequestHandler(CallToolRequestSchema, (request, extra) =>
      this.callTool(request.params.name, request.params.arguments, {
        ...contextOf(extra, request.params._meta?.progressToken),
        requestId: extra.requestId,
        idempotencyKey: request.params._meta?.[IDEMPOTENCY_META_KEY],
      }),
    );

    server.setRequestHandler(ListResourcesRequestSchema, (request) => {
      const { page, nextCursor } = paginate(this.catalog.snapshot.resources, request.params?.cursor, pageSize);
      return {
        resources: page.map(({ descriptor: { timeoutMs: _t, cache: _c, ...resource } }) => resource),
        ...(nextCursor ? { nextCursor } : {}),
      };
    });

    server.setRequestHandler(ListResourceTemplatesRequestSchema, (request) => {
      const { page, nextCursor } = paginate(this.catalog.snapshot.templates, request.params?.cursor, pageSize);
      return {
        resourceTemplates: page.map(
          ({ descriptor: { timeoutMs: _t, cache: _c, completable: _k, ...template } }) => template,
        ),
        ...(nextCursor ? { nextCursor } : {}),
      };
    });

    server.setRequestHandler(ReadResourceRequestSchema, (request, extra) =>
      this.readResource(request.params.uri, contextOf(extra, request.params._meta?.progressToken)),
    );

    server.setRequestHandler(ListPromptsRequestSchema, (request) => {
      const { page, nextCursor } = paginate(this.catalog.snapshot.prompts, request.params?.cursor, pageSize);
      return {
        prompts: page.map(({ publicName, descriptor: { timeoutMs: _t, completable: _k, name: _n, ...prompt } }) => ({
          name: publicName,
          ...prompt,
        })),
        ...(nextCursor ? { nextCursor } : {}),
      };
    });

    server.setRequestHandler(GetPromptRequestSchema, (request, extra) =>
      this.getPrompt(
        request.params.name,
        request.params.arguments,
        contextOf(extra, request.params._meta?.progressToken),
      ),
    );

    server.setRequestHandler(CompleteRequestSchema, async (request, extra): Promise<CompleteResult> => {
      const { ref, argument, context } = request.params;
      const empty: CompleteResult = { completion: { values: [], total: 0, hasMore: false } };
      const snapshot = this.catalog.snapshot;
      let target: { service: string; name: string; completable?: string[]; timeoutMs?: number } | undefined;
      if (ref.type === 'ref/prompt') {
        const prompt = snapshot.prompt(ref.name);
        if (!prompt) throw new RpcError(RPC.InvalidParams, `Unknown prompt: ${ref.name}`);
        target = { service: prompt.service, ...prompt.descriptor };
      } else {
        const template = snapshot.templateByUriTemplate(ref.uri);
        if (!template) throw new RpcError(RPC.InvalidParams, `Unknown resource template: ${ref.uri}`);
        target = { service: template.service, ...template.descriptor };
      }
      if (!target.completable?.includes(argument.name)) return empty;
      try {
        const result = CompletionResultSchema.parse(
          await this.services.call({
            service: target.service,
            operation: 'completion.complete',
            idempotent: true,
            name: target.name,
            completion: {
              argument: argument.name,
              value: argument.value,
              ...(context?.arguments ? { context: context.arguments } : {}),
            },
            timeoutMs: target.timeoutMs ?? this.env.TOOL_TIMEOUT_MS,
            ...(await this.backChannel(contextOf(extra, request.params._meta?.progressToken))),
          }),
        );
        return { completion: result };
      } catch (error) {
        throw toRpcError(error);
      }
    });

    server.setRequestHandler(SetLevelRequestSchema, async (request) => {
      await this.sessions.update(sessionId, () => ({ logLevel: request.params.level }));
      return {};
    });

    // Subscriptions live in the session record: whichever replica holds the client's stream tells it.
    server.setRequestHandler(SubscribeRequestSchema, async (request) => {
      const uri = request.params.uri;
      if (!this.resolveResource(this.catalog.snapshot, uri))
        throw new RpcError(RPC.ResourceNotFound, `Resource not found: ${uri}`, { uri });
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

  /** The service and handler name behind a URI: a fixed resource first, then the first matching template. */
  private resolveResource(
    snapshot: CatalogSnapshot,
    uri: string,
  ): (Pick<CallRequest, 'name' | 'params'> & { service: string; timeoutMs?: number }) | undefined {
    const resource = snapshot.resource(uri);
    if (resource)
      return { service: resource.service, name: resource.descriptor.name, timeoutMs: resource.descriptor.timeoutMs };
    for (const template of snapshot.templates) {
      const params = this.uriTemplateOf(template).match(uri);
      if (params)
        return {
          service: template.service,
          name: template.descriptor.name,
          params: decodeParams(params),
          timeoutMs: template.descriptor.timeoutMs,
        };
    }
    return undefined;
  }

  private uriTemplateOf(template: CatalogTemplate): UriTemplate {
    let compiled = this.templateCache.get(template);
    if (!compiled) {
      compiled = new UriTemplate(template.descriptor.uriTemplate);
      this.templateCache.set(template, compiled);
    }
    return compiled;
  }
}

/** Template variables as values: RFC 6570 expansion percent-encodes them in the URI. */
function decodeParams(params: Record<string, string | string[]>): Record<string, string | string[]> {
  const decode = (value: string) => {
    try {
      return decodeURIComponent(value);
    } catch {
      return value;
    }
  };
  return Object.fromEntries(
    Object.entries(params).map(([key, value]) => [key, Array.isArray(value) ? value.map(decode) : decode(value)]),
  );
}
