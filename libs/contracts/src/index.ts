export {
  CONTRACT_VERSION,
  OPERATIONS,
  SERVICE_NAME_PATTERN,
  HEADERS,
  fabricSubjects,
  operationOfSubject,
} from './subjects';
export type { Operation, FabricSubjects } from './subjects';
export {
  ERROR_CODES,
  ErrorCodeSchema,
  WireErrorSchema,
  FabricError,
  NotFoundError,
  InvalidArgumentError,
  ConflictError,
  PermissionDeniedError,
  UnavailableError,
  CallInterruptedError,
  ResourceExhaustedError,
  DeadlineExceededError,
  CancelledError,
  InternalError,
} from './errors';
export type { ErrorCode, WireError } from './errors';
export {
  JsonSchemaSchema,
  IconSchema,
  ToolAnnotationsSchema,
  CachePolicySchema,
  ScopesSchema,
  ToolDescriptorSchema,
  ResourceDescriptorSchema,
  ResourceTemplateDescriptorSchema,
  PromptArgumentSchema,
  PromptDescriptorSchema,
  ServiceManifestSchema,
} from './manifest.schemas';
export type {
  JsonSchema,
  ToolAnnotations,
  CachePolicy,
  ToolDescriptor,
  ResourceDescriptor,
  ResourceTemplateDescriptor,
  PromptArgument,
  PromptDescriptor,
  ServiceManifest,
  ServiceManifestInput,
  CachePolicyInput,
} from './manifest.schemas';
export { canonicalJson, argumentsKey, expandTags, matchTag } from './cache.policy';
export {
  ALL_CACHE_SPACES,
  CacheInvalidationSchema,
  CacheInvalidationAckSchema,
  CacheMemberSchema,
} from './cache.schemas';
export type { CacheInvalidation, CacheInvalidationAck, CacheMember } from './cache.schemas';
export { AnnouncementSchema, GoodbyeSchema, HelloSchema } from './discovery.schemas';
export { TOOL_LATENCY_BUCKETS_MS, ToolDigestSchema, GatewayPresenceSchema } from './presence.schemas';
export type { ToolDigest, GatewayPresence } from './presence.schemas';
export type { Announcement, Goodbye, Hello } from './discovery.schemas';
export {
  PrincipalSchema,
  principalKey,
  CallRequestSchema,
  CancelSchema,
  CallReplySchema,
  CompletionResultSchema,
  PROBE_MAX_IDS,
  ProbeRequestSchema,
  ProbeReplySchema,
  LOG_LEVELS,
  LogLevelSchema,
  logLevelAllows,
  CallEventSchema,
  CLIENT_REQUEST_METHODS,
  ClientRequestSchema,
  ResourceUpdatedSchema,
} from './envelope.schemas';
export type {
  Principal,
  CallRequest,
  Cancel,
  CallReply,
  CompletionResult,
  ProbeRequest,
  ProbeReply,
  LogLevel,
  CallEvent,
  ClientRequest,
  ResourceUpdated,
} from './envelope.schemas';
export type {
  ToolResult,
  ResourceResult,
  PromptResult,
  ContentBlock,
  PromptMessage,
  SamplingRequest,
  SamplingResult,
  ElicitationRequest,
  ElicitationResult,
  RootsResult,
} from './results';
export {
  TASK_STATUSES,
  TASK_STORAGE_MAX_AGE_MS,
  TaskStatusSchema,
  isTerminalTaskStatus,
  taskStorage,
  taskRecordKey,
  TaskRecordSchema,
  TaskWorkSchema,
  TaskStatusEventSchema,
} from './task.schemas';
export type { TaskStatus, TaskRecord, TaskWork, TaskStatusEvent, TaskStorage } from './task.schemas';
export {
  auditStorage,
  AUDIT_STREAM_DEFAULTS,
  AUDITED_OPERATIONS,
  AuditedOperationSchema,
  AuditEventSchema,
  AuditBatchSchema,
} from './audit.schemas';
export type { AuditEvent, AuditBatch } from './audit.schemas';
