import { z } from 'zod';
import { OPERATIONS } from './subjects';
import { WireErrorSchema } from './errors';

/** MCP log levels (RFC 5424 severities), least severe first. */
export const LOG_LEVELS = ['debug', 'info', 'notice', 'warning', 'error', 'critical', 'alert', 'emergency'] as const;
export const LogLevelSchema = z.enum(LOG_LEVELS);
export type LogLevel = z.infer<typeof LogLevelSchema>;

/** True when a message at `level` passes a client's `minimum` (no minimum: everything passes). */
export function logLevelAllows(minimum: LogLevel | undefined, level: LogLevel): boolean {
  return minimum === undefined || LOG_LEVELS.indexOf(level) >= LOG_LEVELS.indexOf(minimum);
}

/**
 * Who is calling, as the gateway established it (a verified token, or an API key): services use it for
 * authorisation and per-principal caching. Never the credential itself.
 */
export const PrincipalSchema = z.object({
  /** The token's `sub`, or the API key's principal. */
  subject: z.string().min(1),
  /** The token's `iss`; absent for an API key. */
  issuer: z.string().optional(),
  /** The OAuth client (`client_id`/`azp`), or the API key's id. */
  clientId: z.string().optional(),
  scopes: z.array(z.string()).default([]),
});
export type Principal = z.infer<typeof PrincipalSchema>;

/** One string naming a principal: the same subject from two issuers is two principals. */
export function principalKey(principal: Pick<Principal, 'subject' | 'issuer'>): string {
  return `${principal.issuer ?? ''}\n${principal.subject}`;
}

/** One call from the gateway to a service. */
export const CallRequestSchema = z.object({
  /** Unique id of this call; cancellation, progress and logs of the call refer to it. */
  id: z.string().min(1),
  operation: z.enum(OPERATIONS),
  /** Tool, prompt, resource or template name as the service declared it (not the public name). */
  name: z.string().min(1),
  arguments: z.record(z.string(), z.unknown()).optional(),
  /** `resources.read`: the requested URI. */
  uri: z.string().optional(),
  /** `resources.read` of a template: variables matched from the URI. */
  params: z.record(z.string(), z.union([z.string(), z.array(z.string())])).optional(),
  /** `completion.complete`: which argument, its current value and the values already chosen. */
  completion: z
    .object({
      argument: z.string(),
      value: z.string(),
      context: z.record(z.string(), z.string()).optional(),
    })
    .optional(),
  /** Absolute deadline, epoch milliseconds. */
  deadline: z.number().int(),
  principal: PrincipalSchema.optional(),
  sessionId: z.string().optional(),
  progressToken: z.union([z.string(), z.number()]).optional(),
  /**
   * Subject of the gateway replica holding the client's request: the call publishes its `CallEvent`s
   * there and sends its `ClientRequest`s there (request/reply). Absent: the call has no client to talk to.
   */
  events: z.string().min(1).optional(),
  /** Lowest log level the client asked for (`logging/setLevel`); absent: every level. */
  logLevel: LogLevelSchema.optional(),
  /**
   * Set on calls that must not run twice (tools neither read-only nor idempotent). A request that arrives
   * again (a proxy re-sending a POST after its gateway died, a client retrying with its key) carries the
   * same key in every attempt, and the service answers it with the first execution's outcome instead of
   * running it again. A digest, never the client's raw value; it also names the outcome's KV record.
   */
  idempotencyKey: z
    .string()
    .regex(/^[A-Za-z0-9_-]{16,128}$/)
    .optional(),
});
export type CallRequest = z.infer<typeof CallRequestSchema>;

/** A notification of a running call for its client, published on `CallRequest.events` (fire and forget). */
export const CallEventSchema = z.discriminatedUnion('type', [
  z.object({
    type: z.literal('progress'),
    progress: z.number(),
    total: z.number().optional(),
    message: z.string().optional(),
  }),
  z.object({
    type: z.literal('log'),
    level: LogLevelSchema,
    logger: z.string().optional(),
    data: z.unknown(),
  }),
]);
export type CallEvent = z.infer<typeof CallEventSchema>;

/** Requests a running call may send to its client. */
export const CLIENT_REQUEST_METHODS = ['sampling/createMessage', 'elicitation/create', 'roots/list'] as const;

/**
 * A request of a running call to its client, sent with request/reply on `CallRequest.events`. The reply
 * is a `CallReply` carrying the client's result (or why there is none).
 */
export const ClientRequestSchema = z.object({
  type: z.literal('request'),
  method: z.enum(CLIENT_REQUEST_METHODS),
  params: z.record(z.string(), z.unknown()),
  /**
   * The handler's name for this request: on the 2026-07-28 revision it is the request's key in an
   * input-required result's `inputRequests` (and the client answers under it). Absent: the gateway names it.
   */
  key: z
    .string()
    .regex(/^[A-Za-z0-9_.-]{1,64}$/)
    .optional(),
  /** The call's deadline (epoch ms): the longest the handler waits for the answer. */
  deadline: z.number().int().positive().optional(),
});
export type ClientRequest = z.infer<typeof ClientRequestSchema>;

/** A service telling subscribed clients that a resource changed (published on `resourceUpdated`). */
export const ResourceUpdatedSchema = z.object({
  uri: z.string().min(1),
});
export type ResourceUpdated = z.infer<typeof ResourceUpdatedSchema>;

/** A cancellation of a running call, published to every replica of the service. */
export const CancelSchema = z.object({
  id: z.string().min(1),
  reason: z.string().optional(),
});
export type Cancel = z.infer<typeof CancelSchema>;

/** Most call ids one probe may carry; a gateway with more calls in flight at one instance sends several probes. */
export const PROBE_MAX_IDS = 10_000;

/** A gateway asking one instance which of these calls it is still running (see `probe` in the subjects). */
export const ProbeRequestSchema = z.object({
  ids: z.array(z.string().min(1)).max(PROBE_MAX_IDS),
});
export type ProbeRequest = z.infer<typeof ProbeRequestSchema>;

/** The instance's answer: the subset of the probed ids it holds. */
export const ProbeReplySchema = z.object({
  held: z.array(z.string()),
});
export type ProbeReply = z.infer<typeof ProbeReplySchema>;

export const CallReplySchema = z.discriminatedUnion('ok', [
  /**
   * `revision`: the manifest revision of the instance that produced the result (a cache entry carries it);
   * `instance`: that instance's id (the audit trail records it).
   */
  z.object({
    ok: z.literal(true),
    result: z.unknown(),
    revision: z.string().optional(),
    instance: z.string().optional(),
  }),
  z.object({ ok: z.literal(false), error: WireErrorSchema }),
]);
export type CallReply<T = unknown> =
  { ok: true; result: T; revision?: string; instance?: string } | { ok: false; error: z.infer<typeof WireErrorSchema> };

/** Result of `completion.complete`. */
export const CompletionResultSchema = z.object({
  values: z.array(z.string()).max(100),
  total: z.number().int().optional(),
  hasMore: z.boolean().optional(),
});
export type CompletionResult = z.infer<typeof CompletionResultSchema>;
