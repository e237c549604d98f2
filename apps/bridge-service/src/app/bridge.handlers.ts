import { Inject, Injectable, Logger, type OnApplicationShutdown, type OnModuleInit } from '@nestjs/common';
import type { RequestOptions } from '@modelcontextprotocol/sdk/shared/protocol.js';
import type { CompletionResult, PromptResult, ResourceResult, ToolResult } from '@fabric/contracts';
import { ReadinessRegistry } from '@fabric/platform-observability';
import { DynamicHandlers, type CallContext, type DynamicDeclarations } from '@fabric/service-kit';
import type { BridgeConfig } from './bridge.config';
import { UpstreamLostError } from './bridge.errors';
import { toDeclarations, type CompletionRef, type UpstreamCaller, type UpstreamLists } from './manifest.mapping';
import type { UpstreamConnection } from './upstream.connection';
import { UpstreamPool } from './upstream.pool';

export const BRIDGE_CONFIG = Symbol('BRIDGE_CONFIG');

/** Every page of a paginated list method. */
async function allPages<T>(list: (cursor?: string) => Promise<{ nextCursor?: string; items: T[] }>): Promise<T[]> {
  const items: T[] = [];
  let cursor: string | undefined;
  do {
    const page = await list(cursor);
    items.push(...page.items);
    cursor = page.nextCursor;
  } while (cursor);
  return items;
}

/**
 * The upstream MCP server as the service's handlers: its lists become the manifest (refreshed when it says
 * they changed), and each call runs on one pooled connection, retried once on another when the upstream
 * died under a call that may run twice (read-only or idempotent).
 */
@Injectable()
export class BridgeHandlers extends DynamicHandlers implements UpstreamCaller, OnModuleInit, OnApplicationShutdown {
  private readonly log = new Logger('BridgeHandlers');
  private readonly pool: UpstreamPool;
  private current: DynamicDeclarations = {};
  private listed = false;
  private refreshing?: Promise<void>;
  private refreshAgain = false;
  /** Warnings about the upstream's lists already logged: a list refreshed again repeats none of them. */
  private readonly warned = new Set<string>();

  constructor(
    @Inject(BRIDGE_CONFIG) private readonly config: BridgeConfig,
    @Inject(ReadinessRegistry) readiness: ReadinessRegistry,
  ) {
    super();
    this.pool = new UpstreamPool(config, {
      onUp: (connection) => {
        if (!this.listed) this.refresh(connection);
      },
      onListChanged: (connection) => this.refresh(connection),
    });
    readiness.register('upstream', () => {
      if (this.pool.up.length === 0) throw new Error('no process of the bridged MCP server is up');
    });
  }

  declarations(): DynamicDeclarations {
    return this.current;
  }

  /** Pids of the upstream processes running now (stdio). */
  get upstreamPids(): number[] {
    return this.pool.pids;
  }

  async onModuleInit(): Promise<void> {
    const first = await this.pool.start(this.config.connectTimeoutMs);
    if (!first) {
      this.log.warn('no upstream connection came up at start: the replica stays not ready until one does');
      return;
    }
    this.refresh(first);
    await this.refreshing;
  }

  async onApplicationShutdown(): Promise<void> {
    // The kit has drained (beforeApplicationShutdown): the calls are finished, the upstreams may go.
    await this.pool.stop();
  }

  callTool(name: string, args: Record<string, unknown>, ctx: CallContext, retryable: boolean): Promise<ToolResult> {
    return this.run(ctx, retryable, (connection, options) =>
      connection.client.callTool({ name, arguments: args }, undefined, options),
    ) as Promise<ToolResult>;
  }

  readResource(uri: string, ctx: CallContext): Promise<ResourceResult> {
    return this.run(ctx, true, (connection, options) => connection.client.readResource({ uri }, options));
  }

  getPrompt(name: string, args: Record<string, string>, ctx: CallContext): Promise<PromptResult> {
    return this.run(ctx, true, (connection, options) =>
      connection.client.getPrompt({ name, arguments: args }, options),
    );
  }

  async complete(
    ref: CompletionRef,
    argument: { name: string; value: string },
    context: Record<string, string>,
    ctx: CallContext,
  ): Promise<CompletionResult> {
    const result = await this.run(ctx, true, (connection, options) =>
      connection.client.complete({ ref, argument, context: { arguments: context } }, options),
    );
    return result.completion;
  }

  private async run<T>(
    ctx: CallContext,
    retryable: boolean,
    request: (connection: UpstreamConnection, options: RequestOptions) => Promise<T>,
  ): Promise<T> {
    for (let attempt = 1; ; attempt++) {
      try {
        return await this.pool.with(
          ctx.signal,
          (connection) => connection.run(ctx, (options) => request(connection, options)),
          attempt > 1,
        );
      } catch (error) {
        if (!(error instanceof UpstreamLostError) || !retryable || attempt >= 2 || ctx.signal.aborted) throw error;
        this.log.warn(`call ${ctx.callId} lost its upstream; running it again on another`);
      }
    }
  }

  /** Lists everything again from `connection` (coalesced: one refresh at a time, one more if asked meanwhile). */
  private refresh(connection: UpstreamConnection): void {
    if (this.refreshing) {
      this.refreshAgain = true;
      return;
    }
    this.refreshing = this.list(connection)
      .then((lists) => {
        this.listed = true;
        this.current = toDeclarations(lists, this, this.config, (message) => this.warnOnce(message));
        this.changed();
      })
      .catch((error: Error) =>
        this.log.warn(`listing the upstream's tools, resources and prompts failed: ${error.message}`),
      )
      .finally(() => {
        this.refreshing = undefined;
        if (!this.refreshAgain) return;
        this.refreshAgain = false;
        const [next] = this.pool.up;
        if (next) this.refresh(next);
      });
  }

  private warnOnce(message: string): void {
    if (this.warned.has(message)) return;
    this.warned.add(message);
    this.log.warn(message);
  }

  private async list(connection: UpstreamConnection): Promise<UpstreamLists> {
    const { client } = connection;
    const capabilities = client.getServerCapabilities() ?? {};
    const options = { timeout: this.config.connectTimeoutMs };
    const [tools, resources, resourceTemplates, prompts] = await Promise.all([
      capabilities.tools
        ? allPages(async (cursor) => {
            const page = await client.listTools(cursor ? { cursor } : {}, options);
            return { nextCursor: page.nextCursor, items: page.tools };
          })
        : [],
      capabilities.resources
        ? allPages(async (cursor) => {
            const page = await client.listResources(cursor ? { cursor } : {}, options);
            return { nextCursor: page.nextCursor, items: page.resources };
          })
        : [],
      capabilities.resources
        ? allPages(async (cursor) => {
            const page = await client.listResourceTemplates(cursor ? { cursor } : {}, options);
            return { nextCursor: page.nextCursor, items: page.resourceTemplates };
          })
        : [],
      capabilities.prompts
        ? allPages(async (cursor) => {
            const page = await client.listPrompts(cursor ? { cursor } : {}, options);
            return { nextCursor: page.nextCursor, items: page.prompts };
          })
        : [],
    ]);
    return { tools, resources, resourceTemplates, prompts, completions: capabilities.completions !== undefined };
  }
}
