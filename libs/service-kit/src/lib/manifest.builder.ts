import { createHash } from 'node:crypto';
import { z } from 'zod';
import {
  ServiceManifestSchema,
  canonicalJson,
  type PromptArgument,
  type ServiceManifest,
  type ServiceManifestInput,
} from '@fabric/contracts';
import type { CompletionTarget, ResourceOptions, ResourceTemplateOptions } from './decorators';
import type { TablePromptOptions, TableToolOptions } from './handler.table';
import { checkCacheDeclarations } from './cache.declarations';

/** Identity of a service, given to `bootstrapService`. */
export interface ServiceIdentity {
  /** Service name: subject token and tool-name prefix (`[a-z][a-z0-9-]*`). */
  service: string;
  version: string;
  title?: string;
  description?: string;
}

export interface Declarations {
  tools: TableToolOptions[];
  resources: ResourceOptions[];
  resourceTemplates: ResourceTemplateOptions[];
  prompts: TablePromptOptions[];
  completions: CompletionTarget[];
}

/**
 * JSON Schema 2020-12 of a zod schema (`$schema` included), as clients see it; `io: 'input'` keeps
 * defaulted fields optional. A zod schema with `.meta({ id })` lands in `$defs`, referenced by `$ref`.
 */
export function toJsonSchema(schema: z.ZodType, io: 'input' | 'output'): Record<string, unknown> {
  return z.toJSONSchema(schema, { io, unrepresentable: 'any' }) as Record<string, unknown>;
}

/** A JSON Schema without its `$schema` key (2020-12 is MCP's default dialect). */
function withoutDialect({ $schema: _dialect, ...schema }: Record<string, unknown>): Record<string, unknown> {
  return schema;
}

/** MCP prompt arguments of a zod object: one per key, with its description and whether it is required. */
export function toPromptArguments(schema: z.ZodObject<z.ZodRawShape> | undefined): PromptArgument[] {
  if (!schema) return [];
  return Object.entries(schema.shape).map(([name, field]) => {
    const type = field as z.ZodType;
    return {
      name,
      ...(type.description ? { description: type.description } : {}),
      required: !type.safeParse(undefined).success,
    };
  });
}

/** Builds the manifest a service announces from what its classes declared, with its revision. */
export function buildManifest(identity: ServiceIdentity, declarations: Declarations): ServiceManifest {
  checkCacheDeclarations(declarations);
  const completable = (kind: 'prompt' | 'resourceTemplate', name: string) => {
    const argumentsWithCompletion = declarations.completions
      .filter((target) =>
        kind === 'prompt'
          ? 'prompt' in target && target.prompt === name
          : 'resourceTemplate' in target && target.resourceTemplate === name,
      )
      .map((target) => target.argument);
    return argumentsWithCompletion.length > 0 ? { completable: argumentsWithCompletion } : {};
  };

  const tools: ServiceManifestInput['tools'] = declarations.tools.map((tool) => ({
    name: tool.name,
    ...(tool.title ? { title: tool.title } : {}),
    description: tool.description,
    inputSchema: tool.jsonSchemas?.input ?? toJsonSchema(tool.input, 'input'),
    // Clients compile output schemas on tools/list, some (the MCP Inspector) with a draft-07 Ajv that cannot
    // resolve the 2020-12 `$schema` URI and then skips checking results; input schemas keep it (SEP-1613).
    ...(tool.jsonSchemas?.output
      ? { outputSchema: tool.jsonSchemas.output }
      : tool.output
        ? { outputSchema: withoutDialect(toJsonSchema(tool.output, 'output')) }
        : {}),
    ...(tool.annotations ? { annotations: tool.annotations } : {}),
    ...(tool.icons ? { icons: tool.icons } : {}),
    ...(tool.timeoutMs ? { timeoutMs: tool.timeoutMs } : {}),
    ...(tool.cache ? { cache: tool.cache } : {}),
    ...(tool.scopes ? { scopes: tool.scopes } : {}),
    ...(tool.execution ? { execution: { taskSupport: tool.execution.taskSupport } } : {}),
  }));
  const resources: ServiceManifestInput['resources'] = declarations.resources.map((resource) => ({ ...resource }));
  const resourceTemplates: ServiceManifestInput['resourceTemplates'] = declarations.resourceTemplates.map(
    (template) => ({
      ...template,
      ...completable('resourceTemplate', template.name),
    }),
  );
  const prompts: ServiceManifestInput['prompts'] = declarations.prompts.map(
    ({ arguments: args, argumentList, ...prompt }) => ({
      ...prompt,
      arguments: argumentList ?? toPromptArguments(args),
      ...completable('prompt', prompt.name),
    }),
  );

  const manifest = ServiceManifestSchema.parse({ ...identity, tools, resources, resourceTemplates, prompts });
  return { ...manifest, revision: revisionOf(manifest) };
}

/**
 * A digest of the manifest: instances built from the same code and version share it, and any change of
 * version or of what the service declares gives another.
 */
export function revisionOf({ revision: _revision, ...manifest }: ServiceManifest): string {
  return createHash('sha256').update(canonicalJson(manifest)).digest('base64url').slice(0, 16);
}
