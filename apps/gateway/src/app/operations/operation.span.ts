import {
  SpanKind,
  continueFrom,
  endSpan,
  failSpan,
  runWithin,
  startSpan,
  withSpan,
  type Span,
} from '@fabric/platform-observability';
import type { OperationRequest } from './operation';

/** Characters of the session id on a span: enough to find the session, not enough to use it (as access lines). */
const SESSION_PREFIX = 8;

/**
 * Runs one operation in its SERVER span (call only with tracing on): a child of the trace the request
 * continues (`context.traceparent`), else the root of a new trace whose id the context takes, so that the
 * audit trail and the access line name it. The span is active while the operation runs: the service calls,
 * cache lookups and Redis round trips under it are its children. Its status is an error when the operation
 * throws, is refused, or answers a tool failure.
 */
export function traceOperation<T>(request: OperationRequest, run: () => Promise<T>): Promise<T> {
  const { operation, context, served } = request;
  const parent = continueFrom(context.traceparent, context.tracestate);
  const span = startSpan(spanName(request), SpanKind.SERVER, parent, {
    'mcp.method.name': operation.kind,
    ...targetOf(request),
    ...(context.sessionId ? { 'mcp.session.id': context.sessionId.slice(0, SESSION_PREFIX) } : {}),
  });
  context.traceId ??= span.spanContext().traceId;
  let pending: Promise<T>;
  try {
    pending = runWithin(withSpan(parent, span), run);
  } catch (error) {
    pending = Promise.reject(error);
  }
  return pending.then(
    (value) => {
      finish(span, served);
      return value;
    },
    (error: unknown) => {
      endSpan(span, error);
      throw error;
    },
  );
}

function finish(span: Span, served: OperationRequest['served']): void {
  const failure = served.refused ?? served.errorCode;
  span.setAttribute('fabric.outcome', failure ?? 'ok');
  if (served.cached !== undefined) span.setAttribute('fabric.cache.hit', served.cached);
  if (served.instance) span.setAttribute('fabric.service.instance', served.instance);
  if (failure) failSpan(span, failure);
  span.end();
}

/** `tools/call testbed_echo`, `resources/read <uri>`, `tools/list`. */
function spanName({ operation }: OperationRequest): string {
  switch (operation.kind) {
    case 'tools/call':
    case 'prompts/get':
      return `${operation.kind} ${operation.name}`;
    case 'resources/read':
      return `${operation.kind} ${operation.uri}`;
    default:
      return operation.kind;
  }
}

function targetOf({ operation }: OperationRequest): Record<string, string> {
  switch (operation.kind) {
    case 'tools/call':
      return { 'gen_ai.tool.name': operation.name };
    case 'prompts/get':
      return { 'gen_ai.prompt.name': operation.name };
    case 'resources/read':
      return { 'mcp.resource.uri': operation.uri };
    case 'tasks/get':
    case 'tasks/result':
    case 'tasks/cancel':
      return { 'mcp.task.id': operation.taskId };
    default:
      return {};
  }
}
