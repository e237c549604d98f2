import { Inject, Injectable } from '@nestjs/common';
import type {
  CallToolResult,
  CompleteResult,
  GetPromptResult,
  ListPromptsResult,
  ListResourceTemplatesResult,
  ListResourcesResult,
  ListToolsResult,
  ReadResourceResult,
} from '@modelcontextprotocol/sdk/types.js';
import { CompletionResultSchema, FabricError } from '@fabric/contracts';
import { MetricsRegistry } from '@fabric/platform-observability';
import { CatalogService } from '../catalog/catalog.service';
import { ResourceResolver } from '../catalog/resource-resolver';
import { ToolStats } from '../fleet/tool-stats';
import { GATEWAY_ENV, type GatewayEnv } from '../gateway.config';
import { PolicyPipeline } from '../policy/policy.pipeline';
import { InsufficientScopeError } from '../policy/policy.errors';
import { ScopeRules } from '../policy/scope.rules';
import type { CallListener } from '../routing/call-events';
import { idempotencyKeyOf } from '../routing/idempotency-key';
import { ServiceClient, type CallOptions } from '../routing/service.client';
import { ArgumentValidator } from './argument.validator';
import type { ClientChannel } from './client-channel';
import type { Operation, OperationContext, OperationRequest, ServedBy } from './operation';
import { paginate } from './pagination';
import { RPC, RpcError } from './rpc.error';
import { ToolResultChecker, toolError } from './tool-result';

type OperationOf<K extends Operation['kind']> = Extract<Operation, { kind: K }>;

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

/** A channel as the service client's back-channel listener. */
function listenerOf(channel: ClientChannel): CallListener {
  return {
    event: (event) => channel.notify(event),
    request: (request, signal, origin) => channel.ask(request, signal, origin),
  };
}

/**
 * What the gateway does for a client, whatever the protocol era that carried the request: tools/call,
 * resources/read, prompts/get and completion routed to services, lists answered from the catalog. Every
 * operation passes the policy pipeline once. Knows neither sessions nor the SDK's server.
 */
@Injectable()
export class Operations {
  private readonly toolCalls;
  private readonly toolDuration;

  constructor(
    @Inject(CatalogService) private readonly catalog: CatalogService,
    @Inject(ServiceClient) private readonly services: ServiceClient,
    @Inject(ArgumentValidator) private readonly validator: ArgumentValidator,
    @Inject(ToolResultChecker) private readonly results: ToolResultChecker,
    @Inject(ResourceResolver) private readonly resources: ResourceResolver,
    @Inject(PolicyPipeline) private readonly pipeline: PolicyPipeline,
    @Inject(ScopeRules) private readonly scopes: ScopeRules,
    @Inject(GATEWAY_ENV) private readonly env: GatewayEnv,
    @Inject(ToolStats) private readonly stats: ToolStats,
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
   * the call are tool results with `isError`.
   */
  async callTool(operation: OperationOf<'tools/call'>, context: OperationContext): Promise<CallToolResult> {
    const request: OperationRequest<OperationOf<'tools/call'>> = { operation, context, served: {} };
    const started = performance.now();
    let failed = true;
    try {
      const result = await this.pipeline.run(request, () => this.executeToolCall(request));
      failed = result.isError === true;
      return result;
    } finally {
      // Only the catalog's tools: a client naming unknown ones must not grow the stats.
      if (this.catalog.snapshot.tool(operation.name))
        this.stats.record(operation.name, performance.now() - started, failed, request.served.cached);
    }
  }

  /** resources/read: a fixed resource or the first matching template; unknown URIs are ResourceNotFound. */
  readResource(operation: OperationOf<'resources/read'>, context: OperationContext): Promise<ReadResourceResult> {
    const served: ServedBy = {};
    return this.pipeline.run({ operation, context, served }, async () => {
      const { uri } = operation;
      const target = this.resources.resolve(uri);
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
          served,
          ...this.backChannel(context),
        })) as ReadResourceResult;
      } catch (error) {
        if (error instanceof FabricError && error.code === 'NOT_FOUND')
          throw new RpcError(RPC.ResourceNotFound, error.message, { uri });
        throw toRpcError(error);
      }
    });
  }

  /** prompts/get: unknown prompts and missing required arguments are InvalidParams. */
  getPrompt(operation: OperationOf<'prompts/get'>, context: OperationContext): Promise<GetPromptResult> {
    const served: ServedBy = {};
    return this.pipeline.run({ operation, context, served }, async () => {
      const { name, arguments: args } = operation;
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
          served,
          ...this.backChannel(context),
        })) as GetPromptResult;
      } catch (error) {
        throw toRpcError(error);
      }
    });
  }

  /** completion/complete: values from the service when the argument is completable, else none. */
  complete(operation: OperationOf<'completion/complete'>, context: OperationContext): Promise<CompleteResult> {
    return this.pipeline.run({ operation, context, served: {} }, async () => {
      const { ref, argument } = operation;
      const snapshot = this.catalog.snapshot;
      let target: { service: string; name: string; completable?: string[]; timeoutMs?: number };
      if (ref.type === 'ref/prompt') {
        const prompt = snapshot.prompt(ref.name);
        if (!prompt) throw new RpcError(RPC.InvalidParams, `Unknown prompt: ${ref.name}`);
        target = { service: prompt.service, ...prompt.descriptor };
      } else {
        const template = snapshot.templateByUriTemplate(ref.uri);
        if (!template) throw new RpcError(RPC.InvalidParams, `Unknown resource template: ${ref.uri}`);
        target = { service: template.service, ...template.descriptor };
      }
      if (!target.completable?.includes(argument.name)) {
        return { completion: { values: [], total: 0, hasMore: false } };
      }
      try {
        const completion = CompletionResultSchema.parse(
          await this.services.call({
            service: target.service,
            operation: 'completion.complete',
            idempotent: true,
            name: target.name,
            completion: {
              argument: argument.name,
              value: argument.value,
              ...(operation.context ? { context: operation.context } : {}),
            },
            timeoutMs: target.timeoutMs ?? this.env.TOOL_TIMEOUT_MS,
            ...this.backChannel(context),
          }),
        );
        return { completion };
      } catch (error) {
        throw toRpcError(error);
      }
    });
  }

  listTools(operation: OperationOf<'tools/list'>, context: OperationContext): Promise<ListToolsResult> {
    return this.pipeline.run({ operation, context, served: {} }, async () => {
      const tools = this.scopes.visible(context.principal, this.catalog.snapshot.tools, (tool) =>
        this.scopes.ofTool(tool),
      );
      const { page, nextCursor } = paginate(tools, operation.cursor, this.env.LIST_PAGE_SIZE);
      return {
        tools: page.map(({ publicName, descriptor }) => ({
          name: publicName,
          ...(descriptor.title ? { title: descriptor.title } : {}),
          ...(descriptor.description ? { description: descriptor.description } : {}),
          inputSchema: descriptor.inputSchema as { type: 'object' },
          ...(descriptor.outputSchema ? { outputSchema: descriptor.outputSchema as { type: 'object' } } : {}),
          ...(descriptor.annotations ? { annotations: descriptor.annotations } : {}),
          ...(descriptor.icons ? { icons: descriptor.icons } : {}),
          ...(descriptor.execution ? { execution: descriptor.execution } : {}),
        })),
        ...(nextCursor ? { nextCursor } : {}),
      };
    });
  }

  listResources(operation: OperationOf<'resources/list'>, context: OperationContext): Promise<ListResourcesResult> {
    return this.pipeline.run({ operation, context, served: {} }, async () => {
      const resources = this.scopes.visible(context.principal, this.catalog.snapshot.resources, (resource) =>
        this.scopes.ofResource(resource),
      );
      const { page, nextCursor } = paginate(resources, operation.cursor, this.env.LIST_PAGE_SIZE);
      return {
        resources: page.map(({ descriptor: { timeoutMs: _t, cache: _c, scopes: _s, ...resource } }) => resource),
        ...(nextCursor ? { nextCursor } : {}),
      };
    });
  }

  listResourceTemplates(
    operation: OperationOf<'resources/templates/list'>,
    context: OperationContext,
  ): Promise<ListResourceTemplatesResult> {
    return this.pipeline.run({ operation, context, served: {} }, async () => {
      const templates = this.scopes.visible(context.principal, this.catalog.snapshot.templates, (template) =>
        this.scopes.ofTemplate(template),
      );
      const { page, nextCursor } = paginate(templates, operation.cursor, this.env.LIST_PAGE_SIZE);
      return {
        resourceTemplates: page.map(
          ({ descriptor: { timeoutMs: _t, cache: _c, completable: _k, scopes: _s, ...template } }) => template,
        ),
        ...(nextCursor ? { nextCursor } : {}),
      };
    });
  }

  listPrompts(operation: OperationOf<'prompts/list'>, context: OperationContext): Promise<ListPromptsResult> {
    return this.pipeline.run({ operation, context, served: {} }, async () => {
      const prompts = this.scopes.visible(context.principal, this.catalog.snapshot.prompts, (prompt) =>
        this.scopes.ofPrompt(prompt),
      );
      const { page, nextCursor } = paginate(prompts, operation.cursor, this.env.LIST_PAGE_SIZE);
      return {
        prompts: page.map(
          ({ publicName, descriptor: { timeoutMs: _t, completable: _k, name: _n, scopes: _s, ...prompt } }) => ({
            name: publicName,
            ...prompt,
          }),
        ),
        ...(nextCursor ? { nextCursor } : {}),
      };
    });
  }

  /**
   * Refuses with `InsufficientScopeError` a principal that may not read `uri`: a subscription tells of a
   * resource's changes, so it needs what reading it needs.
   */
  authorizeRead(uri: string, context: OperationContext): void {
    const required = this.scopes.required({ kind: 'resources/read', uri });
    if (this.scopes.missing(context.principal, required).length > 0) throw new InsufficientScopeError([...required]);
  }

  /** Whether a URI names a resource of the catalog (fixed or by a template). */
  hasResource(uri: string): boolean {
    return this.resources.resolve(uri) !== undefined;
  }

  private async executeToolCall({
    operation: { name, arguments: args, requestId, idempotencyKey },
    context,
    served,
  }: OperationRequest<OperationOf<'tools/call'>>): Promise<CallToolResult> {
    const tool = this.catalog.snapshot.tool(name);
    if (!tool) throw new RpcError(RPC.InvalidParams, `Unknown tool: ${name}`);
    if (tool.descriptor.execution?.taskSupport === 'required') {
      throw new RpcError(RPC.MethodNotFound, `Tool ${name} must be called as a task (its taskSupport is required)`);
    }
    const input = args ?? {};
    const invalid = this.validator.validate(tool.descriptor.inputSchema, input);
    if (invalid) {
      served.errorCode = 'INVALID_ARGUMENT';
      this.toolCalls.inc({ tool: name, outcome: 'INVALID_ARGUMENT' });
      return toolError(`Invalid arguments for tool ${name}: ${invalid}`);
    }
    const stopTimer = this.toolDuration.startTimer({ tool: name });
    try {
      const { annotations } = tool.descriptor;
      const idempotent = annotations?.readOnlyHint === true || annotations?.idempotentHint === true;
      const reply = await this.services.call({
        service: tool.service,
        operation: 'tools.call',
        name: tool.descriptor.name,
        idempotent,
        // A request that arrives again (re-sent by a proxy, retried by the client) must not run again.
        idempotencyKey:
          idempotent || context.sessionId === undefined
            ? undefined
            : idempotencyKeyOf({ sessionId: context.sessionId, requestId, idempotencyKey }),
        arguments: input,
        timeoutMs: tool.descriptor.timeoutMs ?? this.env.TOOL_TIMEOUT_MS,
        served,
        ...this.backChannel(context),
      });
      const result = this.results.check(name, tool.descriptor.outputSchema, reply);
      this.toolCalls.inc({ tool: name, outcome: result.isError ? 'TOOL_ERROR' : 'ok' });
      return result;
    } catch (error) {
      const failure = error instanceof FabricError ? error : new FabricError('INTERNAL', 'Internal error');
      served.errorCode = failure.code;
      this.toolCalls.inc({ tool: name, outcome: failure.code });
      return toolError(`${failure.message}${failure.retryable ? ' (retryable)' : ''}`);
    } finally {
      stopTimer();
    }
  }

  /** What a service call carries of the caller and how it reaches the client while it runs. */
  private backChannel(
    context: OperationContext,
  ): Pick<CallOptions, 'sessionId' | 'principal' | 'signal' | 'logLevel' | 'progressToken' | 'listener'> {
    const { sessionId, principal, signal, channel } = context;
    return {
      sessionId,
      principal,
      signal,
      logLevel: channel?.logLevel,
      progressToken: channel?.progressToken,
      listener: channel ? listenerOf(channel) : undefined,
    };
  }
}
