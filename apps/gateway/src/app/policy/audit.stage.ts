import { createHash, randomUUID } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import { AUDITED_OPERATIONS, FabricError, canonicalJson, type AuditEvent } from '@fabric/contracts';
import type { CatalogService } from '../catalog/catalog.service';
import type { ResourceResolver } from '../catalog/resource-resolver';
import type { OperationRequest } from '../operations/operation';
import { RpcError } from '../operations/rpc.error';
import type { AuditSink } from './audit.publisher';
import { InsufficientScopeError } from './policy.errors';
import type { PolicyStage } from './policy.stage';

const AUDITED: ReadonlySet<string> = new Set(AUDITED_OPERATIONS);

/** The fields of an operation the trail records, whichever kind it is (tasks name a `taskId`). */
interface AuditedFields {
  kind: string;
  name?: unknown;
  uri?: unknown;
  taskId?: unknown;
  arguments?: unknown;
}

export interface AuditStageOptions {
  /** This gateway replica. */
  gateway: string;
  /** Put the arguments themselves in the event (`AUDIT_ARGUMENTS`). */
  withArguments: boolean;
}

/**
 * First in the pipeline, so that it sees what every later stage does: times each audited operation
 * (`AUDITED_OPERATIONS`; lists and completions are not), classifies its outcome — `ok`, `tool_error`,
 * `refused` (scopes, rate limits), `error` — and hands one event to the sink, whether the answer came from a
 * service, the cache or a refusal. The event is built only for audited operations and after the answer; a
 * failure to build or publish it never reaches the client.
 */
export class AuditStage implements PolicyStage {
  readonly name = 'audit';

  constructor(
    private readonly sink: AuditSink,
    private readonly catalog: CatalogService,
    private readonly resources: ResourceResolver,
    private readonly options: AuditStageOptions,
  ) {}

  handle(request: OperationRequest, next: () => Promise<unknown>): Promise<unknown> {
    if (!AUDITED.has(request.operation.kind)) return next();
    const time = Date.now();
    const started = performance.now();
    let outcome: Promise<unknown>;
    try {
      outcome = next();
    } catch (error) {
      outcome = Promise.reject(error);
    }
    return outcome.then(
      (result) => {
        this.emit(request, time, started, result, undefined);
        return result;
      },
      (error: unknown) => {
        this.emit(request, time, started, undefined, error ?? new Error('rejected'));
        throw error;
      },
    );
  }

  private emit(request: OperationRequest, time: number, started: number, result: unknown, error: unknown): void {
    try {
      this.sink.record(this.eventOf(request, time, performance.now() - started, result, error));
    } catch {
      // The trail must never cost the client its answer.
    }
  }

  private eventOf(
    { operation, context, served }: OperationRequest,
    time: number,
    durationMs: number,
    result: unknown,
    error: unknown,
  ): AuditEvent {
    const fields: AuditedFields = operation;
    const { outcome, errorCode } = error === undefined ? outcomeOfResult(result, served) : outcomeOfError(error);
    const event: AuditEvent = {
      id: randomUUID(),
      time: new Date(time).toISOString(),
      operation: fields.kind as AuditEvent['operation'],
      outcome,
      cached: served.cached === true,
      durationMs: Math.round(durationMs * 1_000) / 1_000,
      gateway: this.options.gateway,
    };
    const principal = context.principal;
    if (principal) {
      event.principal = { subject: principal.subject };
      if (principal.issuer !== undefined) event.principal.issuer = principal.issuer;
      if (principal.clientId !== undefined) event.principal.clientId = principal.clientId;
    }
    if (context.sessionId) event.session = sessionDigest(context.sessionId);
    const target = targetOf(fields);
    if (target !== undefined) event.target = target;
    const service = this.serviceOf(fields);
    if (service !== undefined) event.service = service;
    if (fields.arguments !== undefined && fields.arguments !== null) {
      const json = canonicalJson(fields.arguments);
      event.argumentsHash = createHash('sha256').update(json).digest('hex');
      event.argumentsBytes = Buffer.byteLength(json);
      if (this.options.withArguments) event.arguments = fields.arguments;
    }
    if (errorCode !== undefined) event.errorCode = errorCode;
    if (served.instance !== undefined) event.serviceInstance = served.instance;
    if (context.traceId !== undefined) event.traceId = context.traceId;
    return event;
  }

  /** The service owning the tool, prompt or resource, when the catalog knows it. */
  private serviceOf(fields: AuditedFields): string | undefined {
    switch (fields.kind) {
      case 'tools/call':
        return typeof fields.name === 'string' ? this.catalog.snapshot.tool(fields.name)?.service : undefined;
      case 'prompts/get':
        return typeof fields.name === 'string' ? this.catalog.snapshot.prompt(fields.name)?.service : undefined;
      case 'resources/read':
        return typeof fields.uri === 'string' ? this.resources.resolve(fields.uri)?.service : undefined;
      default:
        return undefined;
    }
  }
}

/** Tool or prompt name, resource URI, or task id. */
function targetOf(fields: AuditedFields): string | undefined {
  const target = fields.name ?? fields.uri ?? fields.taskId;
  return typeof target === 'string' ? target : undefined;
}

function outcomeOfResult(
  result: unknown,
  served: OperationRequest['served'],
): { outcome: AuditEvent['outcome']; errorCode?: string } {
  if (served.refused !== undefined) return { outcome: 'refused', errorCode: served.refused };
  const isError = typeof result === 'object' && result !== null && (result as { isError?: unknown }).isError === true;
  return isError ? { outcome: 'tool_error', errorCode: served.errorCode } : { outcome: 'ok' };
}

function outcomeOfError(error: unknown): { outcome: AuditEvent['outcome']; errorCode: string } {
  if (error instanceof InsufficientScopeError) return { outcome: 'refused', errorCode: 'INSUFFICIENT_SCOPE' };
  if (error instanceof RpcError) return { outcome: 'error', errorCode: String(error.code) };
  if (error instanceof FabricError) return { outcome: 'error', errorCode: error.code };
  return { outcome: 'error', errorCode: 'INTERNAL' };
}

/** A digest of the session id: it tells a session's events apart without letting a reader of the trail use it. */
function sessionDigest(sessionId: string): string {
  return createHash('sha256').update(sessionId).digest('hex').slice(0, 32);
}
