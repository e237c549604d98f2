import type { CallReply, CallRequest } from '@fabric/contracts';
import {
  SpanKind,
  endSpan,
  extractFromHeaders,
  failSpan,
  runWithin,
  startSpan,
  withSpan,
  type Span,
} from '@fabric/platform-observability';

/**
 * The SERVER span of one call or task run on this replica (call only with tracing on): a child of the span
 * whose context the message's headers carry (the gateway's NATS call), named `tools.call <tool>`. Runs `work`
 * (the handler) at once with the span active, so that its cache and Redis spans are children of it.
 */
export function runInCallSpan<T>(
  request: CallRequest,
  instance: string,
  header: (name: string) => string | undefined,
  work: () => T,
  attributes: Record<string, string | number> = {},
): { span: Span; result: T } {
  const parent = extractFromHeaders(header);
  const span = startSpan(`${request.operation} ${request.name}`, SpanKind.SERVER, parent, {
    'messaging.system': 'nats',
    'messaging.operation.type': 'process',
    'fabric.operation': request.operation,
    'fabric.name': request.name,
    'fabric.call.id': request.id,
    'fabric.service.instance': instance,
    ...attributes,
  });
  return { span, result: runWithin(withSpan(parent, span), work) };
}

/** Ends a call's span with its reply's outcome: an error status with the code of a failed reply. */
export function endCallSpan(span: Span, reply: CallReply): void {
  span.setAttribute('fabric.outcome', reply.ok ? 'ok' : reply.error.code);
  if (!reply.ok) failSpan(span, reply.error.code);
  endSpan(span);
}
