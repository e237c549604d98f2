import type { Prompt, Resource, ResourceTemplate, Tool } from '@modelcontextprotocol/sdk/types.js';
import {
  PromptDescriptorSchema,
  ResourceDescriptorSchema,
  ResourceTemplateDescriptorSchema,
  ToolDescriptorSchema,
  type CachePolicyInput,
  type CompletionResult,
  type PromptResult,
  type ResourceResult,
  type ToolResult,
} from '@fabric/contracts';
import type { CallContext, DynamicDeclarations } from '@fabric/service-kit';
import { firstMatch } from './bridge.config';

/** What the upstream offers, as its list methods returned it. */
export interface UpstreamLists {
  tools: Tool[];
  resources: Resource[];
  resourceTemplates: ResourceTemplate[];
  prompts: Prompt[];
  /** The upstream declared the `completions` capability. */
  completions: boolean;
}

export type CompletionRef = { type: 'ref/prompt'; name: string } | { type: 'ref/resource'; uri: string };

/** How bridged handlers reach the upstream; `retryable` says whether a call may run twice. */
export interface UpstreamCaller {
  callTool(name: string, args: Record<string, unknown>, ctx: CallContext, retryable: boolean): Promise<ToolResult>;
  readResource(uri: string, ctx: CallContext): Promise<ResourceResult>;
  getPrompt(name: string, args: Record<string, string>, ctx: CallContext): Promise<PromptResult>;
  complete(
    ref: CompletionRef,
    argument: { name: string; value: string },
    context: Record<string, string>,
    ctx: CallContext,
  ): Promise<CompletionResult>;
}

/** What the operator declares for bridged tools (the upstream cannot): cache policies and scopes by glob. */
export interface BridgePolicy {
  cache: Record<string, CachePolicyInput>;
  scopes: Record<string, string[]>;
}

/** Variable names of an RFC 6570 template (`{id}`, `{+path}`, `{?a,b}`). */
export function templateVariables(uriTemplate: string): string[] {
  return [...uriTemplate.matchAll(/\{[+#./;?&]?([^}]+)\}/g)].flatMap((match) =>
    match[1].split(',').map((name) => name.replace(/[*]$|:\d+$/, '')),
  );
}

const drop = <T>(what: string, name: string, warn: (message: string) => void, keep: T | undefined) => {
  if (keep === undefined) warn(`${what} "${name}" of the upstream cannot be published in a manifest; left out`);
  return keep;
};

/**
 * Turns the upstream's lists into the kit's run-time declarations: schemas, annotations, icons and
 * metadata exactly as the upstream wrote them, plus the operator's cache policies and scopes. What the
 * fabric cannot publish (an invalid name, a cache policy on a tool not annotated read-only, a tool that
 * must run as a task) is left out with a warning instead of failing the whole list.
 */
export function toDeclarations(
  lists: UpstreamLists,
  caller: UpstreamCaller,
  policy: BridgePolicy,
  warn: (message: string) => void,
): DynamicDeclarations {
  const tools: NonNullable<DynamicDeclarations['tools']> = [];
  for (const tool of lists.tools) {
    if (tool.execution?.taskSupport === 'required') {
      warn(`tool "${tool.name}" runs only as a task, which the bridge does not relay; left out`);
      continue;
    }
    const retryable = tool.annotations?.readOnlyHint === true || tool.annotations?.idempotentHint === true;
    let cache = firstMatch(policy.cache, tool.name);
    if (cache && tool.annotations?.readOnlyHint !== true) {
      warn(`BRIDGE_CACHE matches tool "${tool.name}", which is not annotated read-only: not cached`);
      cache = undefined;
    }
    const scopes = firstMatch(policy.scopes, tool.name);
    const descriptor = {
      name: tool.name,
      ...(tool.title ? { title: tool.title } : {}),
      description: tool.description ?? '',
      inputSchema: tool.inputSchema as Record<string, unknown>,
      ...(tool.outputSchema ? { outputSchema: tool.outputSchema as Record<string, unknown> } : {}),
      ...(tool.annotations ? { annotations: tool.annotations } : {}),
      ...(tool.icons ? { icons: tool.icons as never } : {}),
      ...(cache ? { cache } : {}),
      ...(scopes ? { scopes } : {}),
    };
    const valid = ToolDescriptorSchema.safeParse(descriptor).success ? descriptor : undefined;
    if (!drop('tool', tool.name, warn, valid)) continue;
    tools.push({ ...descriptor, handler: (args, ctx) => caller.callTool(tool.name, args, ctx, retryable) });
  }

  const resources: NonNullable<DynamicDeclarations['resources']> = [];
  for (const resource of lists.resources) {
    const { uri, name, title, description, mimeType } = resource;
    const scopes = firstMatch(policy.scopes, uri);
    const descriptor = {
      uri,
      name,
      ...(title ? { title } : {}),
      ...(description ? { description } : {}),
      ...(mimeType ? { mimeType } : {}),
      ...(scopes ? { scopes } : {}),
    };
    if (!drop('resource', uri, warn, ResourceDescriptorSchema.safeParse(descriptor).success ? descriptor : undefined))
      continue;
    resources.push({ ...descriptor, handler: (ctx) => caller.readResource(uri, ctx) });
  }

  const resourceTemplates: NonNullable<DynamicDeclarations['resourceTemplates']> = [];
  const completions: NonNullable<DynamicDeclarations['completions']> = [];
  for (const template of lists.resourceTemplates) {
    const { uriTemplate, name, title, description, mimeType } = template;
    const scopes = firstMatch(policy.scopes, name);
    const descriptor = {
      uriTemplate,
      name,
      ...(title ? { title } : {}),
      ...(description ? { description } : {}),
      ...(mimeType ? { mimeType } : {}),
      ...(scopes ? { scopes } : {}),
    };
    if (
      !drop(
        'resource template',
        name,
        warn,
        ResourceTemplateDescriptorSchema.safeParse(descriptor).success ? descriptor : undefined,
      )
    )
      continue;
    resourceTemplates.push({ ...descriptor, handler: (_params, ctx) => caller.readResource(ctx.uri, ctx) });
    if (!lists.completions) continue;
    for (const variable of templateVariables(uriTemplate)) {
      completions.push({
        target: { resourceTemplate: name, argument: variable },
        handler: (value, context, ctx) =>
          caller.complete({ type: 'ref/resource', uri: uriTemplate }, { name: variable, value }, context, ctx),
      });
    }
  }

  const prompts: NonNullable<DynamicDeclarations['prompts']> = [];
  for (const prompt of lists.prompts) {
    const { name, title, description } = prompt;
    const scopes = firstMatch(policy.scopes, name);
    const args = (prompt.arguments ?? []).map((argument) => ({
      name: argument.name,
      ...(argument.description ? { description: argument.description } : {}),
      ...(argument.required !== undefined ? { required: argument.required } : {}),
    }));
    const descriptor = {
      name,
      ...(title ? { title } : {}),
      ...(description ? { description } : {}),
      arguments: args,
      ...(scopes ? { scopes } : {}),
    };
    if (!drop('prompt', name, warn, PromptDescriptorSchema.safeParse(descriptor).success ? descriptor : undefined))
      continue;
    prompts.push({ ...descriptor, handler: (values, ctx) => caller.getPrompt(name, values, ctx) });
    if (!lists.completions) continue;
    for (const argument of args) {
      completions.push({
        target: { prompt: name, argument: argument.name },
        handler: (value, context, ctx) =>
          caller.complete({ type: 'ref/prompt', name }, { name: argument.name, value }, context, ctx),
      });
    }
  }
  return { tools, resources, resourceTemplates, prompts, completions };
}
