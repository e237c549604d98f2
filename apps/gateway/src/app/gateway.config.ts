import { z } from 'zod';
import { baseEnvSchema, boolEnv, intEnv, listEnv } from '@fabric/platform-config';
import { cacheEnvShape } from '@fabric/platform-cache';
import { AUDIT_STREAM_DEFAULTS, TASK_STORAGE_MAX_AGE_MS } from '@fabric/contracts';
import { requestStateKey } from './protocol/stateless-2026/request-state';

export const GATEWAY_ENV = Symbol('GATEWAY_ENV');

const optionalString = z.preprocess(
  (value) => (typeof value === 'string' && value.trim() === '' ? undefined : value),
  z.string().optional(),
);
const optionalUrl = z.preprocess(
  (value) => (typeof value === 'string' && value.trim() === '' ? undefined : value),
  z.url().optional(),
);

/** Environment of the gateway (see the README's configuration table). */
export const gatewayEnvSchema = baseEnvSchema
  .extend({
    ...cacheEnvShape,
    /** Origins allowed to call `/mcp` from a browser; empty: localhost origins only. `*` allows any. */
    ALLOWED_ORIGINS: listEnv(),
    /** Host header values accepted (DNS-rebinding protection); empty: any host. */
    ALLOWED_HOSTS: listEnv(),
    /** Largest request body accepted, in bytes (413 above it). */
    MAX_BODY_BYTES: intEnv(4 * 1024 * 1024, 1024),
    /** A request body that has not fully arrived this long after its headers gets 408 (and its socket is closed). */
    BODY_TIMEOUT_MS: intEnv(10_000, 100),
    /** SDK servers of sessions kept on this replica (LRU); an evicted session is rebuilt from its record when used. */
    MAX_LOCAL_SESSIONS: intEnv(1_000, 1),
    /** A session unused for this long is forgotten by every replica. */
    SESSION_IDLE_TTL_MS: intEnv(30 * 60_000, 1_000),
    /** Deadline of a call whose tool declares none. */
    TOOL_TIMEOUT_MS: intEnv(30_000, 1),
    /** Items per page of tools/list, resources/list, resources/templates/list and prompts/list. */
    LIST_PAGE_SIZE: intEnv(100, 1),
    /**
     * `ttlMs` of tools/list, prompts/list, resources/list, resources/templates/list and server/discover on the
     * 2026-07-28 revision: how long a client may reuse them (changes also reach `subscriptions/listen`).
     */
    LIST_TTL_MS: intEnv(0, 0),
    /** Prefix tool and prompt names with their service (`knowledge_search_nodes`). */
    TOOL_NAME_PREFIX: boolEnv(true),
    /** How long a starting gateway waits for services to announce themselves before it is ready. */
    DISCOVERY_WAIT_MS: intEnv(1_500, 0),
    /** Extra time on top of a call's deadline for the service's own timeout reply to arrive. */
    DEADLINE_GRACE_MS: intEnv(250, 0),
    /**
     * Extra attempts of a call on another replica: always when a replica refused it unstarted (at capacity,
     * stopping); when the replica running it died, only for read-only or idempotent tools and other reads.
     */
    CALL_RETRIES: intEnv(2, 0),
    /** Calls running longer than this are checked on this period; a call no replica holds any more is lost. */
    CALL_PROBE_MS: intEnv(500, 50),
    /** Calls one gateway replica sends to one service at once; beyond it calls fail at once (bulkhead). */
    SERVICE_MAX_IN_FLIGHT: intEnv(1_000, 1),
    /** Circuit breaker per service: it opens when this percentage of recent calls failed (timeouts, crashes, internal errors)… */
    BREAKER_ERROR_PERCENT: intEnv(50, 1),
    /** …over at least this many calls in the window… */
    BREAKER_MIN_CALLS: intEnv(20, 1),
    /** …the window being this long. */
    BREAKER_WINDOW_MS: intEnv(10_000, 100),
    /** An open circuit lets one trial call through after this long; its success closes the circuit. */
    BREAKER_RESET_MS: intEnv(5_000, 10),
    /**
     * On SIGTERM, how long the gateway keeps serving while reporting not ready before it closes its port:
     * set it above the load balancer's readiness polling period (Kubernetes: a few seconds).
     */
    DRAIN_DELAY_MS: intEnv(0, 0),
    /** How long the events of SSE streams are kept (JetStream) for clients to resume with `Last-Event-ID`. */
    SSE_RETENTION_MS: intEnv(5 * 60_000, 1_000),
    /**
     * Interface the HTTP server binds. Unset: every interface when callers must authenticate, 127.0.0.1 when the
     * gateway runs open (no `AUTH_ISSUER`, no `API_KEYS_FILE`), which is for local development only.
     */
    HOST: optionalString,
    /** Issuer of the OAuth access tokens accepted (`iss`); set, every request to `/mcp` needs a bearer token or an API key. */
    AUTH_ISSUER: optionalUrl,
    /** Where the issuer's signing keys are; default: `jwks_uri` of its authorization server (or OpenID) metadata. */
    AUTH_JWKS_URL: optionalUrl,
    /** Canonical URI of this MCP endpoint (`https://gw.example/mcp`): tokens must name it in `aud`. Required with `AUTH_ISSUER`. */
    AUTH_AUDIENCE: optionalUrl,
    /** JSON array of `{ id, sha256, principal, scopes }`: API keys for machines, by the hex SHA-256 of the key; re-read when it changes. */
    API_KEYS_FILE: optionalString,
    /** JSON: scopes per tool, resource and prompt glob (`{ "tools": { "<glob>": ["scope"] } }`), and `rateLimits`. */
    AUTH_POLICY_FILE: optionalString,
    /**
     * Sessions one principal (every unauthenticated client together: `anonymous`) may hold open across the
     * fleet; an initialize beyond it gets 429. 0: no bound. Counted in Redis with `REDIS_URL`, else per replica.
     */
    MAX_SESSIONS_PER_PRINCIPAL: intEnv(100, 0),
    /** Lifetime of a task whose creator asks for none (`params.task.ttl`): its record and result go after it. */
    TASK_DEFAULT_TTL_MS: intEnv(3_600_000, 1_000),
    /** Longest task lifetime granted (a longer request is cut to it); at most 7 days, the task storage's own bound. */
    TASK_MAX_TTL_MS: intEnv(86_400_000, 1_000),
    /** What clients are told to wait between two `tasks/get` of a task (`pollInterval`). */
    TASK_POLL_INTERVAL_MS: intEnv(1_000, 1),
    /** How often a gateway removes expired task records (any replica may; removing twice does no harm). */
    TASK_SWEEP_MS: intEnv(60_000, 100),
    /** Unfinished tasks one owner (principal, else session) may have at once; beyond it a task is refused. 0: no bound. */
    MAX_TASKS_PER_PRINCIPAL: intEnv(1_000, 0),
    /** While Redis is unreachable: `open` lets calls and sessions through unlimited, `closed` refuses them. */
    RATE_LIMIT_FAIL: z.enum(['open', 'closed']).default('open'),
    /** Publish an audit event (JetStream) for every tools/call, resources/read, prompts/get and task operation. */
    AUDIT_ENABLED: boolEnv(true),
    /** Put the arguments themselves in audit events (by default only their SHA-256 and size). */
    AUDIT_ARGUMENTS: boolEnv(false),
    /** Audit events being published at once at most; beyond it events are dropped (and counted), never waited for. */
    AUDIT_BUFFER: intEnv(10_000, 1),
    /** How long an audit event waits for others to share its batch (one JetStream write for many calls). */
    AUDIT_FLUSH_MS: intEnv(50, 1),
    /** Oldest audit event the stream keeps (events the audit service has not stored yet are lost past it). */
    AUDIT_STREAM_MAX_AGE_MS: intEnv(AUDIT_STREAM_DEFAULTS.maxAgeMs, 60_000),
    /** Bytes the audit stream holds at most; when full, new events are refused and counted. */
    AUDIT_STREAM_MAX_BYTES: intEnv(AUDIT_STREAM_DEFAULTS.maxBytes, 4_096),
    /** Events the audit stream holds at most (0: no bound but the bytes); when full, new events are refused and counted. */
    AUDIT_STREAM_MAX_MESSAGES: intEnv(0, 0),
    /** The live admin page at `/admin` (with auth on, its data needs the `fabric:admin` scope); false: 404. */
    ADMIN_ENABLED: boolEnv(true),
    /** How often the admin page's stream pushes a new snapshot of the fleet. */
    ADMIN_REFRESH_MS: intEnv(1_000, 100),
    /**
     * The fleet's key for `requestState` of input-required results (2026-07-28): 32 bytes, hex or Base64, the
     * same on every replica. Unset: each replica makes its own, and a client's retry works only on the replica
     * that answered it.
     */
    REQUEST_STATE_KEY: optionalString,
    /** Longest a `requestState` stays valid (a call waiting for its client's answers gives up at its own deadline). */
    REQUEST_STATE_TTL_MS: intEnv(10 * 60_000, 1_000),
  })
  .superRefine((env, context) => {
    if (env.AUTH_ISSUER && !env.AUTH_AUDIENCE) {
      context.addIssue({
        code: 'custom',
        path: ['AUTH_AUDIENCE'],
        message: 'is required with AUTH_ISSUER: set it to the canonical URI of this MCP endpoint (https://host/mcp)',
      });
    }
    if (env.TASK_MAX_TTL_MS > TASK_STORAGE_MAX_AGE_MS) {
      context.addIssue({
        code: 'custom',
        path: ['TASK_MAX_TTL_MS'],
        message: `must be at most ${TASK_STORAGE_MAX_AGE_MS} (7 days, how long the task storage keeps anything)`,
      });
    }
    if (env.TASK_DEFAULT_TTL_MS > env.TASK_MAX_TTL_MS) {
      context.addIssue({ code: 'custom', path: ['TASK_DEFAULT_TTL_MS'], message: 'must be at most TASK_MAX_TTL_MS' });
    }
    if (env.REQUEST_STATE_KEY !== undefined && !requestStateKey(env.REQUEST_STATE_KEY)) {
      context.addIssue({
        code: 'custom',
        path: ['REQUEST_STATE_KEY'],
        message: 'must be 32 bytes, as 64 hex digits or Base64 (openssl rand -base64 32)',
      });
    }
    if (env.AUTH_JWKS_URL && !env.AUTH_ISSUER) {
      context.addIssue({ code: 'custom', path: ['AUTH_JWKS_URL'], message: 'needs AUTH_ISSUER' });
    }
  });
export type GatewayEnv = z.infer<typeof gatewayEnvSchema>;

/** Whether callers must authenticate (a token issuer or API keys is configured); else the gateway runs open. */
export function authEnabled(env: Pick<GatewayEnv, 'AUTH_ISSUER' | 'API_KEYS_FILE'>): boolean {
  return env.AUTH_ISSUER !== undefined || env.API_KEYS_FILE !== undefined;
}
