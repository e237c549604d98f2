import { z } from 'zod';
import { SERVICE_NAME_PATTERN } from './subjects';

/** MCP names of tools, prompts and arguments: letters, digits, `_`, `-`, `.` (SEP-986). */
const McpNameSchema = z.string().regex(/^[A-Za-z0-9_.-]{1,128}$/, 'must be 1-128 of A-Z a-z 0-9 _ - .');

/** A JSON Schema document, relayed to clients as written (2020-12 keywords such as `$defs` included). */
export const JsonSchemaSchema = z.record(z.string(), z.unknown());
export type JsonSchema = z.infer<typeof JsonSchemaSchema>;

export const IconSchema = z.looseObject({
  src: z.string(),
  mimeType: z.string().optional(),
  sizes: z.array(z.string()).optional(),
  theme: z.enum(['light', 'dark']).optional(),
});

export const ToolAnnotationsSchema = z.looseObject({
  title: z.string().optional(),
  readOnlyHint: z.boolean().optional(),
  destructiveHint: z.boolean().optional(),
  idempotentHint: z.boolean().optional(),
  openWorldHint: z.boolean().optional(),
});
export type ToolAnnotations = z.infer<typeof ToolAnnotationsSchema>;

/**
 * How results may be cached (see cache.policy.ts): for how long, whether one entry serves everyone
 * (`public`) or one principal, which arguments make the key, and which tags a write invalidates.
 * Tags may name arguments (`entity:{names}`): an array argument gives one tag per element.
 */
export const CachePolicySchema = z.object({
  ttlMs: z.number().int().positive(),
  scope: z.enum(['public', 'principal']).default('public'),
  /** Argument names the cache key is built from; all arguments when absent. */
  key: z.array(z.string().min(1)).optional(),
  /** Tags of the entries, invalidated together by a write (`ctx.cache.invalidate({ tags })`). */
  tags: z.array(z.string().min(1)).optional(),
});
export type CachePolicy = z.infer<typeof CachePolicySchema>;
export type CachePolicyInput = z.input<typeof CachePolicySchema>;

/**
 * OAuth scopes a caller needs, all of them, to see and use a tool, resource or prompt (the gateway's
 * `AUTH_POLICY_FILE` overrides them). Absent or empty: any authenticated caller.
 */
export const ScopesSchema = z.array(z.string().regex(/^[\x21\x23-\x5B\x5D-\x7E]+$/, 'must be an OAuth scope token'));

export const ToolDescriptorSchema = z.object({
  name: McpNameSchema,
  title: z.string().optional(),
  description: z.string().optional(),
  inputSchema: JsonSchemaSchema,
  outputSchema: JsonSchemaSchema.optional(),
  annotations: ToolAnnotationsSchema.optional(),
  icons: z.array(IconSchema).optional(),
  /** Deadline of one call, in milliseconds; the gateway's default applies when absent. */
  timeoutMs: z.number().int().positive().optional(),
  cache: CachePolicySchema.optional(),
  scopes: ScopesSchema.optional(),
  /**
   * MCP tasks (2025-11-25): whether a call may (`optional`) or must (`required`) run as a durable task,
   * answered at once and worked from the service's JetStream work queue. Absent: `forbidden`.
   */
  execution: z.object({ taskSupport: z.enum(['forbidden', 'optional', 'required']) }).optional(),
});
export type ToolDescriptor = z.infer<typeof ToolDescriptorSchema>;

export const ResourceDescriptorSchema = z.object({
  uri: z.string().min(1),
  name: z.string().min(1),
  title: z.string().optional(),
  description: z.string().optional(),
  mimeType: z.string().optional(),
  size: z.number().int().nonnegative().optional(),
  annotations: z.record(z.string(), z.unknown()).optional(),
  icons: z.array(IconSchema).optional(),
  timeoutMs: z.number().int().positive().optional(),
  cache: CachePolicySchema.optional(),
  scopes: ScopesSchema.optional(),
});
export type ResourceDescriptor = z.infer<typeof ResourceDescriptorSchema>;

export const ResourceTemplateDescriptorSchema = z.object({
  /** RFC 6570 URI template, e.g. `knowledge://entities/{name}`. */
  uriTemplate: z.string().min(1),
  name: z.string().min(1),
  title: z.string().optional(),
  description: z.string().optional(),
  mimeType: z.string().optional(),
  annotations: z.record(z.string(), z.unknown()).optional(),
  icons: z.array(IconSchema).optional(),
  /** Template variables the service can complete (`completion/complete`). */
  completable: z.array(z.string()).optional(),
  timeoutMs: z.number().int().positive().optional(),
  cache: CachePolicySchema.optional(),
  scopes: ScopesSchema.optional(),
});
export type ResourceTemplateDescriptor = z.infer<typeof ResourceTemplateDescriptorSchema>;

export const PromptArgumentSchema = z.object({
  name: z.string().min(1),
  title: z.string().optional(),
  description: z.string().optional(),
  required: z.boolean().optional(),
});
export type PromptArgument = z.infer<typeof PromptArgumentSchema>;

export const PromptDescriptorSchema = z.object({
  name: McpNameSchema,
  title: z.string().optional(),
  description: z.string().optional(),
  arguments: z.array(PromptArgumentSchema).default([]),
  icons: z.array(IconSchema).optional(),
  /** Arguments the service can complete (`completion/complete`). */
  completable: z.array(z.string()).optional(),
  timeoutMs: z.number().int().positive().optional(),
  scopes: ScopesSchema.optional(),
});
export type PromptDescriptor = z.infer<typeof PromptDescriptorSchema>;

/** Everything a service offers; announced by every instance at start and on each heartbeat. */
export const ServiceManifestSchema = z.object({
  service: z.string().regex(SERVICE_NAME_PATTERN, 'must match ^[a-z][a-z0-9-]{0,62}$'),
  version: z.string().min(1),
  /**
   * Digest of everything else in the manifest: two instances with the same revision serve the same
   * handlers. Cached results carry the revision that produced them, so a redeployed service never
   * serves its old version's results.
   */
  revision: z.string().min(1).optional(),
  title: z.string().optional(),
  description: z.string().optional(),
  tools: z.array(ToolDescriptorSchema).default([]),
  resources: z.array(ResourceDescriptorSchema).default([]),
  resourceTemplates: z.array(ResourceTemplateDescriptorSchema).default([]),
  prompts: z.array(PromptDescriptorSchema).default([]),
});
export type ServiceManifest = z.infer<typeof ServiceManifestSchema>;
export type ServiceManifestInput = z.input<typeof ServiceManifestSchema>;
