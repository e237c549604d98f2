import { Inject, Injectable } from '@nestjs/common';
import CircuitBreaker from 'opossum';
import { randomUUID } from 'node:crypto';
import { setTimeout as delay } from 'node:timers/promises';
import {
  CallInterruptedError,
  CallReplySchema,
  DeadlineExceededError,
  FabricError,
  InternalError,
  ResourceExhaustedError,
  UnavailableError,
  fabricSubjects,
  type CallRequest,
  type LogLevel,
  type Operation,
  type Principal,
} from '@fabric/contracts';
import { NatsClient, NoRespondersError, RequestTimeoutError, decodeJson, encodeJson } from '@fabric/platform-nats';
import {
  MetricsRegistry,
  SpanKind,
  activeContext,
  endSpan,
  injectHeaders,
  startSpan,
  tracingEnabled,
  withSpan,
  type Span,
} from '@fabric/platform-observability';
import { GATEWAY_ENV, type GatewayEnv } from '../gateway.config';
import { CallEventBus, increasingProgress, type CallListener } from './call-events';
import { LostCallDetector, LostCallError } from './lost-call.detector';

export interface CallOptions {
  service: string;
  operation: Operation;
  /** Name as the service declared it. */
  name: string;
  /** Running it twice does no harm (read-only or idempotent): it is retried when the replica running it dies. */
  idempotent: boolean;
  /**
   * For a call that must not run twice: the same key in every attempt of it, from any gateway replica (see
   * `idempotencyKeyOf`); the service answers a repeat with the first execution's outcome.
   */
  idempotencyKey?: string;
  arguments?: Record<string, unknown>;
  uri?: string;
  params?: Record<string, string | string[]>;
  completion?: CallRequest['completion'];
  timeoutMs: number;
  sessionId?: string;
  principal?: Principal;
  progressToken?: string | number;
  /** Receives the call's progress, logs and requests to the client; without it the call has no back channel. */
  listener?: CallListener;
  /** The client's minimum log level, so that the service does not send what would be dropped. */
  logLevel?: LogLevel;
  /** Aborts the call (client cancellation); the service is told to stop. */
  signal?: AbortSignal;
  /** Told which revision and instance of the service answered (a successful reply's `revision`, `instance`). */
  served?: { revision?: string; instance?: string };
}

/**
 * The envelope of a call as a service receives it (without `events`, which the back channel sets): also the
 * request of a task's work, which a service runs later.
 */
export function callRequestOf(
  options: Omit<CallOptions, 'timeoutMs' | 'idempotent' | 'listener' | 'signal' | 'served'>,
  id: string,
  deadline: number,
): CallRequest {
  return {
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
    ...(options.logLevel ? { logLevel: options.logLevel } : {}),
    ...(options.idempotencyKey ? { idempotencyKey: options.idempotencyKey } : {}),
  };
}

/** Codes that say a service is in trouble; the circuit breaker counts them (not the domain errors). */
const BREAKER_FAILURES = new Set(['TIMEOUT', 'INTERNAL', 'UNAVAILABLE']);

/** How long a call waits for the gateway's NATS connection to come back before it fails as "off the bus". */
const BUS_RECONNECT_WAIT_MS = 1_000;

type Attempt = () => Promise<unknown>;

/** `{ ok: true, result }`, as `CallReplySchema` accepts it. */
function isSuccess(reply: unknown): reply is { ok: true; result: unknown; revision?: string; instance?: string } {
  return typeof reply === 'object' && reply !== null && (reply as { ok?: unknown }).ok === true && 'result' in reply;
}

/** Nobody subscribes to the service's subject: it has no live replica (not a sign of a failing one). */
class NoLiveReplicaError extends UnavailableError {
  constructor(service: string) {
    super(`No live replica of service "${service}" is available right now; try again shortly.`);
    this.name = 'NoLiveReplicaError';
  }
}

/** The replica running the call stopped before answering, and said so (draining) or was found gone (lost). */
function isInterrupted(failure: FabricError): boolean {
  return failure instanceof LostCallError || failure instanceof CallInterruptedError;
}

/**
 * The gateway's own connection to NATS is down (it reconnects): no service can be reached through it, and
 * none is to blame, so no breaker hears of it.
 */
class BusDisconnectedError extends UnavailableError {
  constructor(sent: boolean) {
    super(
      sent
        ? 'The gateway has lost its connection to the bus while the call was running: its outcome is unknown and the call may be retried shortly.'
        : 'The gateway has lost its connection to the bus and is reconnecting: the call was not sent. Try again shortly.',
    );
    this.name = 'BusDisconnectedError';
  }
}

/**
 * Sends calls to services over NATS and turns every failure into a `FabricError`. No replica, or no bus →
 * UNAVAILABLE at once. A call a replica refused unstarted goes to another replica; one whose replica died or
 * stopped holding it is retried when it is idempotent and otherwise fails at once saying its outcome is
 * unknown. Each service sits behind its own bulkhead (a cap on calls in flight) and circuit breaker, so that
 * one slow or failing service cannot hold the gateway's resources or slow calls to the others.
 */
@Injectable()
export class ServiceClient {
  private readonly subjects;
  private readonly breakers = new Map<string, CircuitBreaker<[Attempt], unknown>>();
  /** Calls in flight per service, for the bulkhead. */
  private readonly inFlight = new Map<string, number>();
  private readonly roundTrip;
  private readonly failures;
  private readonly retries;
  private readonly circuitOpen;

  constructor(
    @Inject(NatsClient) private readonly nats: NatsClient,
    @Inject(LostCallDetector) private readonly lostCalls: LostCallDetector,
    @Inject(CallEventBus) private readonly events: CallEventBus,
    @Inject(GATEWAY_ENV) private readonly env: GatewayEnv,
    @Inject(MetricsRegistry) metrics: MetricsRegistry,
  ) {
    this.subjects = fabricSubjects(env.FABRIC_NAMESPACE);
    this.roundTrip = metrics.histogram('fabric_gateway_service_call_seconds', 'Gateway-to-service round trip', [
      'service',
      'operation',
    ]);
    metrics.gauge(
      'fabric_gateway_service_in_flight',
      "Calls this gateway has in flight at each service (its bulkhead's use)",
      ['service'],
      (gauge) => {
        gauge.reset();
        for (const [service, count] of this.inFlight) gauge.set({ service }, count);
      },
    );
    this.failures = metrics.counter('fabric_gateway_service_call_failures_total', 'Failed service calls by code', [
      'service',
      'operation',
      'code',
    ]);
    this.retries = metrics.counter(
      'fabric_gateway_service_call_retries_total',
      'Calls sent again to another replica, by reason',
      ['service', 'reason'],
    );
    this.circuitOpen = metrics.gauge(
      'fabric_gateway_circuit_open',
      '1 while the circuit breaker of a service is open',
      ['service'],
    );
  }

  async call(options: CallOptions): Promise<unknown> {
    const deadline = Date.now() + options.timeoutMs;
    const stopTimer = this.roundTrip.startTimer({ service: options.service, operation: options.operation });
    // One listener for every attempt, so that the client never sees the progress of a retry start over.
    const listener = options.listener && increasingProgress(options.listener);
    try {
      for (let attempt = 0; ; attempt++) {
        try {
          return await this.attempt(options, deadline, listener, attempt);
        } catch (error) {
          const failure = error as FabricError;
          const reason = this.retryReason(failure, options, attempt, deadline);
          if (!reason) throw failure;
          this.retries.inc({ service: options.service, reason });
          // Replicas refusing work are busy or stopping: give them a moment, with jitter so retries spread.
          // Replicas whose NATS server died need longer, to reconnect to another server.
          const pauseMs =
            reason === 'not_started'
              ? Math.random() * 10 * (attempt + 1)
              : reason === 'no_responders'
                ? (0.5 + Math.random() / 2) * 150 * (attempt + 1)
                : 0;
          if (pauseMs > 0) await delay(pauseMs, undefined, { signal: options.signal }).catch(() => undefined);
        }
      }
    } catch (error) {
      const failure = error as FabricError;
      // Not the service's failure: the gateway could not reach the bus.
      if (!(failure instanceof BusDisconnectedError)) {
        this.failures.inc({ service: options.service, operation: options.operation, code: failure.code });
      }
      throw isInterrupted(failure) && !options.idempotent
        ? new UnavailableError(
            `The replica running "${options.name}" stopped before answering: the outcome is unknown and the call may be retried.`,
          )
        : failure;
    } finally {
      stopTimer();
    }
  }

  /** Why a failed attempt may be sent again, or undefined when it may not. */
  private retryReason(
    failure: FabricError,
    options: CallOptions,
    attempt: number,
    deadline: number,
  ): string | undefined {
    if (attempt >= this.env.CALL_RETRIES || deadline - Date.now() < 10 || options.signal?.aborted) return undefined;
    if (failure.notStarted) return 'not_started';
    // Nobody subscribed (in a NATS cluster: every replica's server just died, they are reconnecting): it never started.
    if (failure instanceof NoLiveReplicaError) return 'no_responders';
    if (failure instanceof LostCallError && options.idempotent) return 'replica_lost';
    if (failure instanceof CallInterruptedError && options.idempotent) return 'replica_stopped';
    return undefined;
  }

  /** One attempt on whichever replica NATS picks, through the service's bulkhead and circuit breaker. */
  private async attempt(
    options: CallOptions,
    deadline: number,
    listener: CallListener | undefined,
    attempt: number,
  ): Promise<unknown> {
    const request = callRequestOf(options, randomUUID(), deadline);
    // Off the bus: give the connection a moment to come back (a cluster's client moves to another server in a
    // fraction of a second), then fail at once rather than wait for the deadline; the service is not to blame.
    const reconnectWaitMs = Math.min(BUS_RECONNECT_WAIT_MS, deadline - Date.now());
    if (!this.nats.isConnected() && !(await this.nats.waitConnected(reconnectWaitMs))) {
      throw new BusDisconnectedError(false);
    }
    // The bulkhead: a slow service holds at most this many of the gateway's calls; the rest fail at once.
    const inFlight = this.inFlight.get(options.service) ?? 0;
    if (inFlight >= this.env.SERVICE_MAX_IN_FLIGHT) {
      throw new ResourceExhaustedError(
        `Service "${options.service}" has ${this.env.SERVICE_MAX_IN_FLIGHT} calls in progress at this gateway, its limit; try again shortly.`,
      );
    }
    this.inFlight.set(options.service, inFlight + 1);
    const back = listener ? this.events.open(request.id, listener) : undefined;
    if (back) request.events = back.subject;
    try {
      const result = await this.breaker(options.service).fire(() =>
        this.send(options, request, attempt).catch((error: unknown) => {
          throw this.toFabricError(error, options);
        }),
      );
      // The service sent its events before its reply: they reach the client first.
      await back?.settled();
      return result;
    } catch (error) {
      const failure = this.toFabricError(error, options);
      // What the service sent before failing (a log saying why…) still goes before the error, briefly waited for.
      if (back && failure.code !== 'CANCELLED') await Promise.race([back.settled(), delay(1_000)]);
      // Stop the work wherever it still runs: past its deadline, cancelled, or given up for lost (in case it is
      // not; sent once the gateway is back on the bus).
      if (
        failure.code === 'TIMEOUT' ||
        failure.code === 'CANCELLED' ||
        failure instanceof LostCallError ||
        failure instanceof BusDisconnectedError
      ) {
        this.cancel(options.service, request.id, failure.message);
      }
      throw failure;
    } finally {
      back?.close();
      this.inFlight.set(options.service, this.inFlight.get(options.service)! - 1);
    }
  }

  private async send(options: CallOptions, request: CallRequest, attempt: number): Promise<unknown> {
    const subject = this.subjects.request(options.service, options.operation);
    // The service replies TIMEOUT at the deadline itself; the grace lets that reply win over our own timer.
    const timeoutMs = request.deadline - Date.now() + this.env.DEADLINE_GRACE_MS;
    const signal = options.signal;
    // Cancelled before it left: never send it (the service would run a call nobody waits for).
    if (signal?.aborted) throw signal.reason;
    let unwatch: (() => void) | undefined;
    let onAbort: (() => void) | undefined;
    // With tracing on, each attempt is a CLIENT span whose context travels in the request's NATS headers.
    let span: Span | undefined;
    let headers: Record<string, string> | undefined;
    if (tracingEnabled()) {
      const parent = activeContext();
      span = startSpan(`nats ${options.service}.${options.operation}`, SpanKind.CLIENT, parent, {
        'messaging.system': 'nats',
        'messaging.operation.type': 'send',
        'messaging.destination.name': subject,
        'fabric.service': options.service,
        'fabric.operation': options.operation,
        'fabric.name': options.name,
        'fabric.attempt': attempt,
      });
      headers = injectHeaders(withSpan(parent, span), {});
    }
    try {
      const msg = await new Promise<Awaited<ReturnType<NatsClient['request']>>>((resolve, reject) => {
        this.nats.request(subject, encodeJson(request), { timeoutMs, headers }).then(resolve, reject);
        unwatch = this.lostCalls.watch(options.service, request.id, reject);
        if (signal) {
          if (signal.aborted) reject(signal.reason);
          onAbort = () => reject(signal.reason);
          signal.addEventListener('abort', onAbort, { once: true });
        }
      });
      const reply = decodeJson(msg.data);
      // A success is checked by hand (the schema costs more than the rest of the reply's handling).
      if (isSuccess(reply)) {
        if (options.served) {
          options.served.revision = typeof reply.revision === 'string' ? reply.revision : undefined;
          options.served.instance = typeof reply.instance === 'string' ? reply.instance : undefined;
        }
        if (span) {
          if (typeof reply.instance === 'string') span.setAttribute('fabric.service.instance', reply.instance);
          endSpan(span);
        }
        return reply.result;
      }
      const parsed = CallReplySchema.safeParse(reply);
      if (!parsed.success) throw new InternalError(`Malformed reply from service ${options.service}`);
      if (!parsed.data.ok) throw FabricError.fromWire(parsed.data.error);
      if (span) endSpan(span);
      return parsed.data.result;
    } catch (error) {
      if (span) endSpan(span, this.toFabricError(error, options));
      throw error;
    } finally {
      unwatch?.();
      if (onAbort) signal?.removeEventListener('abort', onAbort);
    }
  }

  private breaker(service: string): CircuitBreaker<[Attempt], unknown> {
    let breaker = this.breakers.get(service);
    if (breaker) return breaker;
    breaker = new CircuitBreaker((attempt: Attempt) => attempt(), {
      name: service,
      timeout: false, // every call has its own deadline
      errorThresholdPercentage: this.env.BREAKER_ERROR_PERCENT,
      volumeThreshold: this.env.BREAKER_MIN_CALLS,
      rollingCountTimeout: this.env.BREAKER_WINDOW_MS,
      resetTimeout: this.env.BREAKER_RESET_MS,
      // Domain errors, cancellations, refusals of unstarted calls, calls a stopping replica gave up and the
      // gateway's own disconnection say nothing about the service's health.
      errorFilter: (error: unknown) =>
        !(error instanceof FabricError) ||
        !BREAKER_FAILURES.has(error.code) ||
        error.notStarted ||
        error instanceof NoLiveReplicaError ||
        error instanceof CallInterruptedError ||
        error instanceof BusDisconnectedError,
    });
    breaker.on('open', () => this.circuitOpen.set({ service }, 1));
    breaker.on('close', () => this.circuitOpen.set({ service }, 0));
    this.breakers.set(service, breaker);
    return breaker;
  }

  private toFabricError(error: unknown, options: CallOptions): FabricError {
    if (error instanceof FabricError) return error;
    // No reply came because the gateway is off the bus (a reply sent meanwhile is gone), not the service's doing.
    if (!this.nats.isConnected() && !options.signal?.aborted) return new BusDisconnectedError(true);
    if (error instanceof NoRespondersError) return new NoLiveReplicaError(options.service);
    if (error instanceof RequestTimeoutError) {
      return new DeadlineExceededError(`"${options.name}" did not finish within ${options.timeoutMs} ms.`);
    }
    if (options.signal?.aborted) return new FabricError('CANCELLED', 'The call was cancelled', { retryable: false });
    const code = (error as { code?: string } | undefined)?.code;
    if (code === 'EOPENBREAKER') {
      return new UnavailableError(
        `Service "${options.service}" is failing; calls to it are paused for a few seconds. Try again shortly.`,
      );
    }
    return new UnavailableError(`Service "${options.service}" could not be reached.`, { cause: error });
  }

  /** Tells every replica of the service to stop a call (the one running it aborts the handler). */
  private cancel(service: string, id: string, reason: string): void {
    if (!this.nats.connection.isClosed()) this.nats.publishJson(this.subjects.cancel(service), { id, reason });
  }
}
