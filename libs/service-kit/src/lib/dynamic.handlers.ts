import type { JsonSchema, PromptArgument } from '@fabric/contracts';
import type {
  CompletionHandler,
  CompletionTarget,
  PromptHandler,
  PromptOptions,
  ResourceHandler,
  ResourceOptions,
  ResourceTemplateHandler,
  ResourceTemplateOptions,
  ToolHandler,
  ToolOptions,
} from './decorators';

/**
 * A tool known only at run time: its schemas are raw JSON Schemas, published to clients as they are (the
 * gateway validates arguments against `inputSchema`; the handler gets them unparsed).
 */
export interface DynamicTool extends Omit<ToolOptions, 'input' | 'output'> {
  inputSchema: JsonSchema;
  outputSchema?: JsonSchema;
  /** Returns a `ToolReturn`; with `outputSchema`, a `ToolResult` carrying its own `structuredContent`. */
  handler: ToolHandler;
}

/** A prompt known only at run time, its arguments described as MCP prompt arguments (all strings). */
export interface DynamicPrompt extends Omit<PromptOptions, 'arguments'> {
  arguments?: PromptArgument[];
  handler: PromptHandler;
}

/** Everything a `DynamicHandlers` provider offers now. */
export interface DynamicDeclarations {
  tools?: DynamicTool[];
  resources?: (ResourceOptions & { handler: ResourceHandler })[];
  resourceTemplates?: (ResourceTemplateOptions & { handler: ResourceTemplateHandler })[];
  prompts?: DynamicPrompt[];
  completions?: { target: CompletionTarget; handler: CompletionHandler }[];
}

/**
 * Handlers declared at run time instead of by decorators (a bridge to another MCP server, a plugin host):
 * an app provider that extends this class is found like decorated ones, and what `declarations()` returns
 * joins the service's handlers. Call `changed()` when it returns something else: the kit rebuilds its
 * handler table and announces the new manifest revision at once.
 */
export abstract class DynamicHandlers {
  private readonly listeners = new Set<() => void>();

  /** What this provider offers now; called at start and after each `changed()`. */
  abstract declarations(): DynamicDeclarations;

  /** Tells the kit that `declarations()` returns something new. */
  protected changed(): void {
    for (const listener of this.listeners) listener();
  }

  /** Used by the kit: runs `listener` after each `changed()`; returns the unsubscription. */
  onChange(listener: () => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }
}
