import { z } from 'zod';

/** Where audit events are kept until the audit service has stored them. */
export function auditStorage(namespace = 'fabric') {
  return {
    stream: `${namespace}_audit`,
    /** Durable consumer of the audit service (its replicas share it). */
    consumer: 'audit_service',
  } as const;
}

/**
 * Default limits of the audit stream (`AUDIT_STREAM_MAX_AGE_MS`, `AUDIT_STREAM_MAX_BYTES`): the gateways and the
 * audit service open it with the same settings. When full, new events are refused (and counted), never old ones lost.
 */
export const AUDIT_STREAM_DEFAULTS = { maxAgeMs: 7 * 24 * 3_600_000, maxBytes: 1024 ** 3 } as const;

/** The operations an audit event records. */
export const AUDITED_OPERATIONS = [
  'tools/call',
  'resources/read',
  'prompts/get',
  'tasks/get',
  'tasks/result',
  'tasks/list',
  'tasks/cancel',
] as const;
export const AuditedOperationSchema = z.enum(AUDITED_OPERATIONS);

/**
 * One operation as the gateway saw it: who, what, with which outcome. Published on `auditEvents`;
 * stored once per `id` however often it is delivered.
 */
export const AuditEventSchema = z.object({
  /** Unique per event (a UUID): the idempotency of the store. */
  id: z.string().min(1).max(64),
  /** ISO 8601: when the operation started. */
  time: z.string(),
  operation: AuditedOperationSchema,
  /** The caller; absent for an anonymous one (open mode). */
  principal: z
    .object({ subject: z.string(), issuer: z.string().optional(), clientId: z.string().optional() })
    .optional(),
  /** A digest of the session id (never the id itself: it would let a reader of the trail use the session). */
  session: z.string().optional(),
  /** The service that owns the tool, resource or prompt, when the catalog knew it. */
  service: z.string().optional(),
  /** Tool or prompt (public name), or resource URI, or task id. */
  target: z.string().optional(),
  /** SHA-256 (hex) and size in bytes of the canonical JSON of the arguments; the arguments only with `AUDIT_ARGUMENTS=true`. */
  argumentsHash: z.string().optional(),
  argumentsBytes: z.number().int().nonnegative().optional(),
  arguments: z.unknown().optional(),
  /** `ok`; `tool_error` (a result with `isError`); `refused` (scopes, limits); `error` (a protocol error). */
  outcome: z.enum(['ok', 'tool_error', 'refused', 'error']),
  /** The fabric or JSON-RPC error code when not `ok`. */
  errorCode: z.string().optional(),
  /** Answered from the gateway's cache. */
  cached: z.boolean().default(false),
  durationMs: z.number().nonnegative(),
  /** The gateway replica, and the service instance that answered (when one did). */
  gateway: z.string(),
  serviceInstance: z.string().optional(),
  /** W3C trace id of the request, when it carried one. */
  traceId: z.string().optional(),
});
export type AuditEvent = z.infer<typeof AuditEventSchema>;

/**
 * What the gateway publishes on `auditEvents`: the events of a short interval in one message. Each event is
 * read on its own (a malformed one is dropped alone), and stored once by its id.
 */
export const AuditBatchSchema = z.object({ events: z.array(z.unknown()).min(1) });
export type AuditBatch = z.infer<typeof AuditBatchSchema>;
