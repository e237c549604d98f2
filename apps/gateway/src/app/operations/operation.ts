import type { Principal } from '@fabric/contracts';
import type { ClientChannel } from './client-channel';

/** Who asks, as far as the gateway knows: what every era hands to the operations. */
export interface OperationContext {
  /** The authenticated caller, once authentication exists. */
  principal?: Principal;
  /** Opaque id of the client's conversation (a 2025-11-25 session), passed on to services. */
  sessionId?: string;
  /** Aborts the operation: the client cancelled, disconnected, or its session ended. */
  signal?: AbortSignal;
  /** Reaches the client while the operation runs; without it the operation cannot talk back. */
  channel?: ClientChannel;
  /**
   * W3C trace id of the request (from `_meta.traceparent`, else the HTTP `traceparent` header; with tracing on,
   * the trace the gateway's span started when it carried none): the audit trail records it.
   */
  traceId?: string;
  /** The W3C `traceparent` (and `tracestate`) the request continues, as it carried them (well formed). */
  traceparent?: string;
  tracestate?: string;
}

/** The requests the operations answer, whatever the protocol era that carried them. */
export type Operation =
  | {
      kind: 'tools/call';
      name: string;
      arguments?: Record<string, unknown>;
      /** The JSON-RPC id, and the client's `_meta.idempotencyKey`: together with the session they name one execution. */
      requestId?: string | number;
      idempotencyKey?: unknown;
      /** MCP tasks: run it as a durable task (answered at once with the task), kept `ttl` ms at most. */
      task?: { ttl?: number };
    }
  | { kind: 'resources/read'; uri: string }
  | { kind: 'prompts/get'; name: string; arguments?: Record<string, string> }
  | {
      kind: 'completion/complete';
      ref: { type: 'ref/prompt'; name: string } | { type: 'ref/resource'; uri: string };
      argument: { name: string; value: string };
      context?: Record<string, string>;
    }
  | ListOperation<'tools/list'>
  | ListOperation<'resources/list'>
  | ListOperation<'resources/templates/list'>
  | ListOperation<'prompts/list'>
  | { kind: 'tasks/get'; taskId: string }
  | { kind: 'tasks/result'; taskId: string }
  | ListOperation<'tasks/list'>
  | { kind: 'tasks/cancel'; taskId: string };

/** A page of one of the catalog's lists. */
export interface ListOperation<K extends string> {
  kind: K;
  cursor?: string;
}

export type OperationKind = Operation['kind'];

/**
 * What served an operation, filled in by its execution and the policy stages: a cache keeps only what the
 * current revision produced; the audit trail records the rest.
 */
export interface ServedBy {
  /** Manifest revision of the service instance that answered. */
  revision?: string;
  /** Id of the service instance that answered. */
  instance?: string;
  /** Answered from the gateway's cache (no service was asked). */
  cached?: boolean;
  /** A policy stage refused the operation and answered it with this code (a rate limit: `RATE_LIMITED`). */
  refused?: string;
  /** The fabric code of a failure the gateway answered as an `isError` tool result. */
  errorCode?: string;
}

/** One operation on its way through the policy pipeline. */
export interface OperationRequest<O extends Operation = Operation> {
  readonly operation: O;
  readonly context: OperationContext;
  readonly served: ServedBy;
}
