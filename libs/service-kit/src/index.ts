export { bootstrapService } from './lib/bootstrap';
export { McpTool, McpResource, McpResourceTemplate, McpPrompt, McpCompletion } from './lib/decorators';
export type {
  ToolOptions,
  ResourceOptions,
  ResourceTemplateOptions,
  PromptOptions,
  CompletionTarget,
  ToolReturn,
  ResourceReturn,
  PromptReturn,
  CompletionReturn,
} from './lib/decorators';
export type { AskOptions, CallContext, ResourceContext } from './lib/call-context';
export { detachedCallContext } from './lib/call.channel';
export { ResourceNotifier } from './lib/resource.notifier';
export { samplingText } from './lib/results';
export type { ServiceIdentity } from './lib/manifest.builder';
export { ServiceKitModule } from './lib/service-kit.module';
export { FabricServer } from './lib/fabric.server';
export { HandlerTable, DuplicateHandlerError } from './lib/handler.table';
export { DynamicHandlers } from './lib/dynamic.handlers';
export type { DynamicDeclarations, DynamicTool, DynamicPrompt } from './lib/dynamic.handlers';
export { serviceEnvSchema } from './lib/kit.config';
export type { ServiceEnv } from './lib/kit.config';
export { ServiceCache } from './lib/service.cache';
export type { InnerCachePolicy, Invalidation } from './lib/service.cache';
export { CachePolicyError } from './lib/cache.declarations';
