import 'reflect-metadata';
import type { z } from 'zod';
import type {
  CachePolicyInput,
  CompletionResult,
  PromptResult,
  ResourceResult,
  ToolAnnotations,
  ToolResult,
} from '@fabric/contracts';
import type { CallContext, ResourceContext } from './call-context';

/** Metadata keys under which the decorators record their declarations on a method. */
export const MCP_HANDLER = Symbol('fabric:mcp-handler');

type ZodObjectLike = z.ZodObject<z.ZodRawShape>;
type Icons = { src: string; mimeType?: string; sizes?: string[]; theme?: 'light' | 'dark' }[];

export interface ToolOptions<I extends ZodObjectLike = ZodObjectLike, O extends ZodObjectLike = ZodObjectLike> {
  /** Name within the service; clients see `<service>_<name>` by default. */
  name: string;
  title?: string;
  description: string;
  /** Arguments schema; published to clients as JSON Schema and enforced before the handler runs. */
  input: I;
  /** Structured result schema: the handler returns an object of this shape (sent as `structuredContent`). */
  output?: O;
  annotations?: ToolAnnotations;
  icons?: Icons;
  /** Deadline of one call in ms; the gateway's default applies when absent. */
  timeoutMs?: number;
  /**
   * Results may be cached (read-only tools only): the gateway answers repeated calls from its cache for
   * `ttlMs`. `scope: 'principal'` keeps one entry per caller; `key` names the arguments that make the key
   * (default: all); `tags` (with `{argument}` placeholders) are what `ctx.cache.invalidate({ tags })` drops.
   */
  cache?: CachePolicyInput;
  /** OAuth scopes a caller needs (all of them) to see and use it; the gateway's policy file overrides them. */
  scopes?: string[];
  /**
   * MCP tasks: a client may (`optional`) or must (`required`) call it as a durable task, answered at once and
   * worked from the service's JetStream work queue by any replica (run again on another when the one working
   * it dies: `ctx.attempt` counts the runs). Its deadline is then the task's TTL, not `timeoutMs`.
   */
  execution?: { taskSupport: 'optional' | 'required' };
}

export interface ResourceOptions {
  uri: string;
  name: string;
  title?: string;
  description?: string;
  mimeType?: string;
  icons?: Icons;
  timeoutMs?: number;
  /** Reads may be cached by the gateway (see `ToolOptions.cache`; a template's tags may name its variables). */
  cache?: CachePolicyInput;
  /** OAuth scopes a caller needs (all of them) to see and use it; the gateway's policy file overrides them. */
  scopes?: string[];
}

export interface ResourceTemplateOptions {
  /** RFC 6570 template, e.g. `knowledge://entities/{name}`. */
  uriTemplate: string;
  name: string;
  title?: string;
  description?: string;
  mimeType?: string;
  icons?: Icons;
  timeoutMs?: number;
  /** Reads may be cached by the gateway (see `ToolOptions.cache`; a template's tags may name its variables). */
  cache?: CachePolicyInput;
  /** OAuth scopes a caller needs (all of them) to see and use it; the gateway's policy file overrides them. */
  scopes?: string[];
}

export interface PromptOptions<A extends ZodObjectLike = ZodObjectLike> {
  name: string;
  title?: string;
  description?: string;
  /** Arguments: an object of strings (MCP prompt arguments are strings); `.describe()` texts are published. */
  arguments?: A;
  icons?: Icons;
  timeoutMs?: number;
  /** OAuth scopes a caller needs (all of them) to see and use it; the gateway's policy file overrides them. */
  scopes?: string[];
}

export type CompletionTarget = { prompt: string; argument: string } | { resourceTemplate: string; argument: string };

/**
 * What a tool handler may return:
 * - a `ToolResult` (`{ content: [...] }`) — sent as is;
 * - with `output` declared: an object of that shape — sent as `structuredContent` plus its JSON as text;
 * - a string — one text content block;
 * - any other value — its JSON (2-space indented) as one text content block.
 */
export type ToolReturn = ToolResult | string | object;
/** A resource handler returns a `ResourceResult`, a string (text of the URI) or a value (sent as JSON). */
export type ResourceReturn = ResourceResult | string | object;
/** A prompt handler returns a `PromptResult` or a string (one user message). */
export type PromptReturn = PromptResult | string;
/** A completion handler returns candidate values, or a `CompletionResult` with `total`/`hasMore`. */
export type CompletionReturn = string[] | CompletionResult;

export type HandlerDeclaration =
  | { kind: 'tool'; options: ToolOptions }
  | { kind: 'resource'; options: ResourceOptions }
  | { kind: 'resourceTemplate'; options: ResourceTemplateOptions }
  | { kind: 'prompt'; options: PromptOptions }
  | { kind: 'completion'; options: CompletionTarget };

function declare(declaration: HandlerDeclaration): MethodDecorator {
  return (target, propertyKey) => {
    Reflect.defineMetadata(MCP_HANDLER, declaration, target, propertyKey);
  };
}

/** Declares a tool: `method(args: z.infer<input>, ctx: CallContext): ToolReturn | Promise<ToolReturn>`. */
export function McpTool<I extends ZodObjectLike, O extends ZodObjectLike>(options: ToolOptions<I, O>): MethodDecorator {
  return declare({ kind: 'tool', options: options as unknown as ToolOptions });
}

/** Declares a fixed resource: `method(ctx: ResourceContext): ResourceReturn | Promise<ResourceReturn>`. */
export function McpResource(options: ResourceOptions): MethodDecorator {
  return declare({ kind: 'resource', options });
}

/** Declares a resource template: `method(params: Record<string, string>, ctx: ResourceContext)`. */
export function McpResourceTemplate(options: ResourceTemplateOptions): MethodDecorator {
  return declare({ kind: 'resourceTemplate', options });
}

/** Declares a prompt: `method(args: z.infer<arguments>, ctx: CallContext): PromptReturn | Promise<PromptReturn>`. */
export function McpPrompt<A extends ZodObjectLike>(options: PromptOptions<A>): MethodDecorator {
  return declare({ kind: 'prompt', options: options as unknown as PromptOptions });
}

/**
 * Declares completion of one argument of a prompt or one variable of a resource template:
 * `method(value: string, context: Record<string, string>, ctx: CallContext): CompletionReturn | Promise<CompletionReturn>`.
 */
export function McpCompletion(target: CompletionTarget): MethodDecorator {
  return declare({ kind: 'completion', options: target });
}

export type ToolHandler = (args: Record<string, unknown>, ctx: CallContext) => ToolReturn | Promise<ToolReturn>;
export type ResourceHandler = (ctx: ResourceContext) => ResourceReturn | Promise<ResourceReturn>;
export type ResourceTemplateHandler = (
  params: Record<string, string | string[]>,
  ctx: ResourceContext,
) => ResourceReturn | Promise<ResourceReturn>;
export type PromptHandler = (args: Record<string, string>, ctx: CallContext) => PromptReturn | Promise<PromptReturn>;
export type CompletionHandler = (
  value: string,
  context: Record<string, string>,
  ctx: CallContext,
) => CompletionReturn | Promise<CompletionReturn>;
