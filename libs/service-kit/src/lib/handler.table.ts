import 'reflect-metadata';
import { z } from 'zod';
import type { JsonSchema, PromptArgument, ServiceManifest } from '@fabric/contracts';
import {
  MCP_HANDLER,
  type CompletionHandler,
  type CompletionTarget,
  type HandlerDeclaration,
  type PromptHandler,
  type PromptOptions,
  type ResourceHandler,
  type ResourceOptions,
  type ResourceTemplateHandler,
  type ResourceTemplateOptions,
  type ToolHandler,
  type ToolOptions,
} from './decorators';
import type { DynamicDeclarations } from './dynamic.handlers';
import { buildManifest, type Declarations, type ServiceIdentity } from './manifest.builder';

/** A tool as the table holds it: declared with zod, or at run time with raw JSON Schemas published as they are. */
export type TableToolOptions = ToolOptions & { jsonSchemas?: { input: JsonSchema; output?: JsonSchema } };
/** A prompt as the table holds it: its arguments from zod, or given as MCP prompt arguments at run time. */
export type TablePromptOptions = PromptOptions & { argumentList?: PromptArgument[] };

// Run-time handlers get their arguments as sent: the gateway has validated them against the JSON Schema.
const ANY_ARGUMENTS = z.looseObject({});

export interface Registered<O, H> {
  options: O;
  handler: H;
}

/** Raised at start-up when two handlers claim the same name: a service must not start ambiguous. */
export class DuplicateHandlerError extends Error {
  constructor(kind: string, name: string) {
    super(`Two handlers declare the ${kind} "${name}"`);
    this.name = 'DuplicateHandlerError';
  }
}

export const completionKey = (target: CompletionTarget) =>
  'prompt' in target
    ? `prompt:${target.prompt}:${target.argument}`
    : `template:${target.resourceTemplate}:${target.argument}`;

/** Every handler a service declared, by name, and the manifest that describes them. */
export class HandlerTable {
  readonly tools = new Map<string, Registered<TableToolOptions, ToolHandler>>();
  readonly resources = new Map<string, Registered<ResourceOptions, ResourceHandler>>();
  readonly resourceTemplates = new Map<string, Registered<ResourceTemplateOptions, ResourceTemplateHandler>>();
  readonly prompts = new Map<string, Registered<TablePromptOptions, PromptHandler>>();
  readonly completions = new Map<string, Registered<CompletionTarget, CompletionHandler>>();
  readonly manifest: ServiceManifest;

  /** Collects the decorated methods of `instances` (provider objects), then the run-time `dynamic` handlers. */
  constructor(identity: ServiceIdentity, instances: object[], dynamic: DynamicDeclarations[] = []) {
    for (const instance of instances) this.collect(instance);
    for (const declarations of dynamic) this.addDynamic(declarations);
    const declarations: Declarations = {
      tools: [...this.tools.values()].map((entry) => entry.options),
      resources: [...this.resources.values()].map((entry) => entry.options),
      resourceTemplates: [...this.resourceTemplates.values()].map((entry) => entry.options),
      prompts: [...this.prompts.values()].map((entry) => entry.options),
      completions: [...this.completions.values()].map((entry) => entry.options),
    };
    this.manifest = buildManifest(identity, declarations);
  }

  /** The zod schema of a tool's input, for validation inside the service. */
  inputSchemaOf(tool: string): z.ZodType | undefined {
    return this.tools.get(tool)?.options.input;
  }

  private collect(instance: object): void {
    const prototype = Object.getPrototypeOf(instance) as object | null;
    if (!prototype || prototype === Object.prototype) return;
    for (const key of Object.getOwnPropertyNames(prototype)) {
      if (key === 'constructor') continue;
      const declaration = Reflect.getMetadata(MCP_HANDLER, prototype, key) as HandlerDeclaration | undefined;
      if (!declaration) continue;
      const method = (instance as Record<string, unknown>)[key];
      if (typeof method !== 'function') continue;
      this.add(declaration, method.bind(instance));
    }
  }

  private addDynamic(declarations: DynamicDeclarations): void {
    for (const { handler, inputSchema, outputSchema, ...tool } of declarations.tools ?? []) {
      const jsonSchemas = { input: inputSchema, ...(outputSchema ? { output: outputSchema } : {}) };
      this.add({ kind: 'tool', options: { ...tool, input: ANY_ARGUMENTS, jsonSchemas } as TableToolOptions }, handler);
    }
    for (const { handler, ...resource } of declarations.resources ?? [])
      this.add({ kind: 'resource', options: resource }, handler);
    for (const { handler, ...template } of declarations.resourceTemplates ?? [])
      this.add({ kind: 'resourceTemplate', options: template }, handler);
    for (const { handler, arguments: argumentList, ...prompt } of declarations.prompts ?? []) {
      const options: TablePromptOptions = { ...prompt, arguments: ANY_ARGUMENTS, argumentList: argumentList ?? [] };
      this.add({ kind: 'prompt', options }, handler);
    }
    for (const { target, handler } of declarations.completions ?? [])
      this.add({ kind: 'completion', options: target }, handler);
  }

  private add(declaration: HandlerDeclaration, handler: (...args: never[]) => unknown): void {
    const put = <O, H>(map: Map<string, Registered<O, H>>, kind: string, name: string, options: O) => {
      if (map.has(name)) throw new DuplicateHandlerError(kind, name);
      map.set(name, { options, handler: handler as H });
    };
    switch (declaration.kind) {
      case 'tool':
        return put(this.tools, 'tool', declaration.options.name, declaration.options);
      case 'resource':
        return put(this.resources, 'resource', declaration.options.uri, declaration.options);
      case 'resourceTemplate':
        return put(this.resourceTemplates, 'resource template', declaration.options.name, declaration.options);
      case 'prompt':
        return put(this.prompts, 'prompt', declaration.options.name, declaration.options);
      case 'completion':
        return put(this.completions, 'completion', completionKey(declaration.options), declaration.options);
    }
  }
}
