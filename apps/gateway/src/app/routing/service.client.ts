import { Inject, Injectable } from '@nestjs/common';
import { randomUUID } from 'node:crypto';
import {
  CallReplySchema,
  DeadlineExceededError,
  FabricError,
  InternalError,
  UnavailableError,
  fabricSubjects,
  type CallRequest,
  type Operation,
  type Principal,
} from '@fabric/contracts';
import { NatsClient, NoRespondersError, RequestTimeoutError, decodeJson, encodeJson } from '@fabric/platform-nats';
import { MetricsRegistry } from '@fabric/platform-observability';
import { GATEWAY_ENV, type GatewayEnv } from '../gateway.config';

export interface CallOptions {
  service: string;
  operation: Operation;
  /** Name as the service declared it. */
  name: string;
  arguments?: Record<string, unknown>;
  uri?: string;
  params?: Record<string, string | string[]>;
  completion?: CallRequest['completion'];
  timeoutMs: number;
  sessionId?: string;
  principal?: Principal;
  progressToken?: string | number;
  /** Aborts the call (client cancellation); the service is told to stop. */
  signal?: AbortSignal;
}

/**
 * Sends calls to services over NATS and turns every failure into a `FabricError`: no replica → UNAVAILABLE
 * at once; deadline passed → TIMEOUT, and the service is told to stop.
 */
@Injectable()
export class ServiceClient {
  private readonly subjects;
  private readonly roundTrip;
  private readonly failures;

  constructor(
    @Inject(NatsClient) private readonly nats: NatsClient,
    @Inject(GATEWAY_ENV) private readonly env: GatewayEnv,
    @Inject(MetricsRegistry) metrics: MetricsRegistry,
  ) {
    this.subjects = fabricSubjects(env.FABRIC_NAMESPACE);
    this.roundTrip = metrics.histogram('fabric_gateway_service_call_seconds', 'Gateway-to-service round trip', ['service', 'operation']);
    this.failures = metrics.counter('fabric_gateway_service_call_failures_total', 'Failed service calls by code', ['service', 'operation', 'code']);
  }

  async call(options: CallOptions): Promise<unknown> {
    const id = randomUUID();
    const deadline = Date.now() + options.timeoutMs;
    const request: CallRequest = {
      id,
      operation: options.operation,
      name: options.name,
      deadline,
      ...(options.arguments ? { arguments: options.arguments } : {}),
      ...(options.uri !== undefined ? { uri: options.uri } : {}),
      ...(options.params ? { params: options.params } : {}),
      ...(options.completion ? { completion: options.completion } : {}),
      ...(options.sessionId ? { sessionId: options.sessionId } : {}),
      ...(options.principal ? { principal: options.principal } : {}),
      ...(options.progressToken !== undefined ? { progressToken: options.progressToken } : {}),
    };
    const stopTimer = this.roundTrip.startTimer({ service: options.service, operation: options.operation });
    try {
      const reply = await this.send(options, request);
      if (!reply.ok) throw FabricError.fromWire(reply.error);
      return reply.result;
    } catch (error) {
      const failure = this.toFabricError(error, options);
      this.failures.inc({ service: options.service, operation: options.operation, code: failure.code });
      if (failure.code === 'TIMEOUT' || failure.code === 'CANCELLED') this.cancel(options.service, id, failure.message);
      throw failure;
    } finally {
      stopTimer();
    }
  }

  private async send(options: CallOptions, request: CallRequest) {
    const subject = this.subjects.request(options.service, options.operation);
    // The service replies TIMEOUT at the deadline itself; the grace lets that reply win over our own timer.
    const pending = this.nats.request(subject, encodeJson(request), { timeoutMs: options.timeoutMs + this.env.DEADLINE_GRACE_MS });
    const signal = options.signal;
    const msg = await (signal
      ? Promise.race([
          pending,
          new Promise<never>((_, reject) => {
            if (signal.aborted) reject(signal.reason);
            signal.addEventListener('abort', () => reject(signal.reason), { once: true });
          }),
        ])
      : pending);
    const parsed = CallReplySchema.safeParse(decodeJson(msg.data));
    if (!parsed.success) throw new InternalError(`Malformed reply from service ${options.service}`);
    return parsed.data;
  }

  private toFabricError(error: unknown, options: CallOptions): FabricError {
    if (error instanceof FabricError) return error;
    if (error instanceof NoRespondersError) {
      return new UnavailableError(`No live replica of service "${options.service}" is available right now; try again shortly.`);
    }
    if (error instanceof RequestTimeoutError) {
      return new DeadlineExceededError(`"${options.name}" did not finish within ${options.timeoutMs} ms.`);
    }
    if (options.signal?.aborted) return new FabricError('CANCELLED', 'The call was cancelled', { retryable: false });
    return new UnavailableError(`Service "${options.service}" could not be reached.`, { cause: error });
  }

  /** Tells every replica of the service to stop a call (the one running it aborts the handler). */
  private cancel(service: string, id: string, reason: string): void {
    if (!this.nats.connection.isClosed()) this.nats.publishJson(this.subjects.cancel(service), { id, reason });
  }
}
