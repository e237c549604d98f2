import { Inject, Injectable, Logger, type BeforeApplicationShutdown } from '@nestjs/common';
import { Server, type CustomTransportStrategy } from '@nestjs/microservices';
import {
  CallInterruptedError,
  CallRequestSchema,
  CancelSchema,
  CancelledError,
  DeadlineExceededError,
  ProbeRequestSchema,
  ResourceExhaustedError,
  UnavailableError,
  fabricSubjects,
  type Announcement,
  type CallReply,
  type ProbeReply,
  type CallRequest,
  type FabricSubjects,
} from '@fabric/contracts';
import {
  NatsClient,
  decodeJson,
  encodeJson,
  headerOf,
  tryDecodeJson,
  type Msg,
  type Subscription,
} from '@fabric/platform-nats';
import { MetricsRegistry, ReadinessRegistry, tracingEnabled, type Span } from '@fabric/platform-observability';
import { endCallSpan, runInCallSpan } from './call.span';
import { CallChannel, callContext } from './call.channel';
import { CallDedup } from './call.dedup';
import { dispatchCall } from './call.dispatcher';
import { HandlerRegistry } from './handler.registry';
import { InFlightWork } from './in-flight';
import { INSTANCE_ID } from './instance-id';
import { ReadinessMonitor } from './readiness.monitor';
import { SERVICE_ENV, type ServiceEnv } from './kit.config';
import { ServiceCache } from './service.cache';
import { TaskWorker } from './task.worker';
import { toWireError } from './wire-error';

/**
 * The service side of the fabric's NATS contract, as a NestJS transport strategy: joins the service's
 * queue group, announces the manifest, runs each call under its deadline and cancellation, refuses calls
 * beyond its concurrency limit, leaves the queue group while a dependency is down, and drains; its
 * `TaskWorker` works the service's tasks beside the calls.
 */
@Injectable()
export class FabricServer extends Server implements CustomTransportStrategy, BeforeApplicationShutdown {
  private readonly log = new Logger('FabricServer');
  private readonly subjects: FabricSubjects;
  private requestSubscription?: Subscription;
  private controlSubscriptions: Subscription[] = [];
  private heartbeat?: NodeJS.Timeout;
  private draining?: Promise<void>;
  /** Why this replica takes no calls now (a failed readiness check), or undefined when it is ready. */
  private unready?: string;
  private readonly readinessMonitor: ReadinessMonitor;

  private readonly dedup: CallDedup;
  private readonly calls;
  private readonly duration;
  private readonly inFlightGauge;

  constructor(
    @Inject(NatsClient) private readonly nats: NatsClient,
    @Inject(HandlerRegistry) private readonly registry: HandlerRegistry,
    @Inject(SERVICE_ENV) private readonly env: ServiceEnv,
    @Inject(ReadinessRegistry) private readonly readiness: ReadinessRegistry,
    @Inject(MetricsRegistry) metrics: MetricsRegistry,
    @Inject(ServiceCache) private readonly cache: ServiceCache,
    @Inject(INSTANCE_ID) readonly instanceId: string,
    @Inject(InFlightWork) private readonly inFlight: InFlightWork,
    @Inject(TaskWorker) private readonly tasks: TaskWorker,
  ) {
    super();
    this.subjects = fabricSubjects(env.FABRIC_NAMESPACE);
    this.readinessMonitor = new ReadinessMonitor(
      readiness,
      { intervalMs: env.READINESS_INTERVAL_MS, timeoutMs: env.READINESS_TIMEOUT_MS },
      (problem) => this.onReadinessChange(problem),
    );
    this.calls = metrics.counter('fabric_service_calls_total', 'Calls served, by operation, name and outcome', [
      'operation',
      'name',
      'outcome',
    ]);
    this.duration = metrics.histogram('fabric_service_call_duration_seconds', 'Time to serve one call', [
      'operation',
      'name',
    ]);
    this.inFlightGauge = metrics.gauge('fabric_service_in_flight', 'Calls being served now');
    this.dedup = new CallDedup({
      nats,
      subjects: this.subjects,
      service: registry.identity.service,
      instanceId: this.instanceId,
      bucket: `${env.FABRIC_NAMESPACE}_idempotency`,
      ttlMs: env.IDEMPOTENCY_TTL_MS,
      metrics,
    });
  }

  /** Called by NestJS once the app is initialised: subscribe, then announce. */
  listen(callback: (error?: unknown) => void): void {
    try {
      this.start();
      callback();
    } catch (error) {
      callback(error);
    }
  }

  private start(): void {
    const service = this.registry.identity.service;
    this.joinQueueGroup();
    this.controlSubscriptions = [
      this.nats.subscribe(this.subjects.cancel(service), (msg) => this.onCancel(msg)),
      this.nats.subscribe(this.subjects.probe(service, this.instanceId), (msg) => this.onProbe(msg)),
      this.nats.subscribe(this.subjects.hello, (msg) => {
        this.nats.respond(msg, encodeJson(this.announcement()));
      }),
    ];
    this.nats.publishJson(this.subjects.announce, this.announcement());
    // Run-time handlers changed (DynamicHandlers): the new revision goes out now, not at the next beat.
    this.registry.onChange(() => this.announce());
    this.heartbeat = setInterval(() => this.announce(), this.env.HEARTBEAT_MS);
    this.heartbeat.unref();
    this.readinessMonitor.start();
    this.tasks.start();
    this.log.log(`${service} instance ${this.instanceId} serving ${this.registry.table.tools.size} tools`);
  }

  private joinQueueGroup(): void {
    const service = this.registry.identity.service;
    this.requestSubscription = this.nats.subscribe(
      this.subjects.requestWildcard(service),
      (msg) => this.onRequest(msg),
      {
        queue: this.subjects.queueGroup(service),
      },
    );
  }

  /** One heartbeat: the announcement, with the readiness the latest round of checks found; it waits on nothing. */
  private announce(): void {
    if (this.draining || this.nats.connection.isClosed()) return;
    this.nats.publishJson(this.subjects.announce, this.announcement());
  }

  /**
   * A dependency went down or came back: leave the queue group (and, by the announcement sent at once, the
   * catalog) while it is down, and rejoin when it recovers.
   */
  private async onReadinessChange(problem: string | undefined): Promise<void> {
    if (this.draining || this.nats.connection.isClosed()) return;
    if (problem) {
      this.log.warn(`not ready (${problem}): taking no calls until it recovers`);
      this.unready = problem;
      this.tasks.pause();
      this.announce();
      await this.requestSubscription?.drain().catch(() => undefined);
    } else {
      this.log.log(`ready again (was: ${this.unready})`);
      this.unready = undefined;
      this.tasks.resume();
      this.joinQueueGroup();
      this.announce();
    }
  }

  private announcement(): Announcement {
    return {
      instanceId: this.instanceId,
      manifest: this.registry.table.manifest,
      heartbeatMs: this.env.HEARTBEAT_MS,
      state: this.draining ? 'draining' : this.unready ? 'unready' : 'ready',
      inFlight: this.inFlight.count('call') + this.inFlight.count('task'),
      sentAt: Date.now(),
    };
  }

  private onRequest(msg: Msg): void {
    let request: CallRequest;
    try {
      request = CallRequestSchema.parse(decodeJson(msg.data));
    } catch {
      this.reply(msg, {
        ok: false,
        error: { code: 'INVALID_ARGUMENT', message: 'Malformed call envelope', retryable: false },
      });
      return;
    }
    // Refusals below are "not started": the gateway may send the call to another replica, whatever the tool.
    if (this.draining || this.unready) {
      const why = this.draining ? 'is shutting down' : 'is not ready';
      this.reply(msg, { ok: false, error: new UnavailableError(`The replica ${why}`, { notStarted: true }).toWire() });
      return;
    }
    if (this.inFlight.count('call') >= this.env.MAX_CONCURRENT_CALLS) {
      const busy = new ResourceExhaustedError(
        `The replica is running its limit of ${this.env.MAX_CONCURRENT_CALLS} calls`,
        { notStarted: true },
      );
      this.calls.inc({ operation: request.operation, name: request.name, outcome: busy.code });
      this.reply(msg, { ok: false, error: busy.toWire() });
      return;
    }
    const remaining = request.deadline - Date.now();
    if (remaining <= 0) {
      this.reply(msg, { ok: false, error: new DeadlineExceededError().toWire() });
      return;
    }

    const controller = new AbortController();
    // Node fires timers longer than 2^31-1 ms at once; such a deadline is as good as none.
    const timer = setTimeout(() => controller.abort(new DeadlineExceededError()), Math.min(remaining, 2 ** 31 - 1));
    const stopTimer = this.duration.startTimer({ operation: request.operation, name: request.name });
    this.inFlightGauge.inc();

    // A handler that ignores its signal must not hold the reply: whichever settles first answers.
    const aborted = new Promise<never>((_, reject) => {
      controller.signal.addEventListener('abort', () => reject(controller.signal.reason), { once: true });
    });
    const channel = new CallChannel(request, this.nats, controller.signal);
    const ctx = callContext(request, controller.signal, channel, this.cache);
    const failed = (error: unknown): CallReply => ({
      ok: false,
      // Aborted because this replica stops: said so whatever the handler threw, so that the gateway may retry it.
      error:
        controller.signal.reason instanceof CallInterruptedError
          ? controller.signal.reason.toWire()
          : toWireError(error, (ref, cause) =>
              this.log.error({ ref, callId: request.id, err: cause }, `call ${request.name} failed`),
            ),
    });
    // A call with an idempotency key runs at most once fleet-wide; a repeat gets the first run's reply.
    const { revision } = this.registry.table.manifest;
    const instance = this.instanceId;
    const execute = () =>
      dispatchCall(this.registry.table, request, ctx).then(
        (result): CallReply => ({ ok: true, result, revision, instance }),
        failed,
      );
    // With tracing on, the call runs in a SERVER span continuing the trace its NATS headers carry.
    let span: Span | undefined;
    let running: Promise<CallReply>;
    if (tracingEnabled()) {
      ({ span, result: running } = runInCallSpan(
        request,
        instance,
        (name) => headerOf(msg, name),
        () => this.dedup.run(request, execute),
      ));
    } else {
      running = this.dedup.run(request, execute);
    }
    const finished = Promise.race([running, aborted])
      .catch(failed)
      .then((reply) => {
        if (span) endCallSpan(span, reply);
        channel.close();
        clearTimeout(timer);
        stopTimer();
        this.inFlightGauge.dec();
        this.inFlight.delete(request.id);
        this.calls.inc({
          operation: request.operation,
          name: request.name,
          outcome: reply.ok ? 'ok' : reply.error.code,
        });
        this.reply(msg, reply);
      });
    this.inFlight.add(request.id, { kind: 'call', controller, finished });
  }

  private onCancel(msg: Msg): void {
    const parsed = CancelSchema.safeParse(tryDecodeJson(msg.data));
    if (!parsed.success) return;
    // A task is cancelled by its id like a call: the worker running it (if this replica does) stops it.
    this.inFlight.abort(parsed.data.id, new CancelledError(parsed.data.reason));
  }

  private onProbe(msg: Msg): void {
    const parsed = ProbeRequestSchema.safeParse(tryDecodeJson(msg.data));
    // Never "none held" for a probe it cannot read (too many ids…): the gateway would declare its calls lost.
    const reply: ProbeReply | CallReply = parsed.success
      ? { held: parsed.data.ids.filter((id) => this.inFlight.has(id)) }
      : { ok: false, error: { code: 'INVALID_ARGUMENT', message: 'Malformed probe', retryable: false } };
    if (msg.reply) this.nats.respond(msg, encodeJson(reply));
  }

  private reply(msg: Msg, reply: CallReply): void {
    if (msg.reply) this.nats.respond(msg, encodeJson(reply));
  }

  /** Number of calls being served now. */
  get inFlightCount(): number {
    return this.inFlight.count('call');
  }

  async beforeApplicationShutdown(): Promise<void> {
    await this.drain();
  }

  /**
   * Stops taking calls, finishes the ones held (up to the grace period, then aborts them as retryable),
   * and leaves the catalog. Idempotent.
   */
  drain(): Promise<void> {
    this.draining ??= this.runDrain();
    return this.draining;
  }

  private async runDrain(): Promise<void> {
    // No new task is taken from now on; the ones running are held work like calls.
    const fetching = this.tasks.stop();
    this.readiness.markStopping();
    if (this.heartbeat) clearInterval(this.heartbeat);
    this.readinessMonitor.stop();
    const service = this.registry.identity.service;
    if (!this.nats.connection.isClosed()) {
      this.nats.publishJson(this.subjects.goodbye, { instanceId: this.instanceId, service });
      if (!this.unready) await this.requestSubscription?.drain().catch(() => undefined);
    }
    const held = this.inFlight.all();
    if (held.length > 0) this.log.log(`draining: finishing ${held.length} call(s) and task(s)`);
    let graceTimer: NodeJS.Timeout | undefined;
    const grace = new Promise<'grace'>((resolve) => {
      graceTimer = setTimeout(() => resolve('grace'), this.env.SHUTDOWN_GRACE_MS);
    });
    const outcome = await Promise.race([Promise.all(held.map((call) => call.finished)), grace]);
    clearTimeout(graceTimer);
    if (outcome === 'grace') {
      // A pull still open would take the work given back below, and hand it out once more for nothing.
      await fetching;
      const left = this.inFlight.all();
      this.log.warn(`grace period over: aborting ${left.length} call(s) and task(s)`);
      for (const call of left)
        call.controller.abort(new CallInterruptedError('The replica shut down before the call finished'));
      await Promise.all(left.map((call) => call.finished));
    }
    await fetching;
    for (const subscription of this.controlSubscriptions) subscription.unsubscribe();
    if (!this.nats.connection.isClosed()) await this.nats.connection.flush().catch(() => undefined);
    this.log.log(`${service} instance ${this.instanceId} drained`);
  }

  close(): Promise<void> {
    return this.drain();
  }

  on(): void {
    // The fabric has no transport events to expose.
  }

  unwrap<T>(): T {
    return this.nats.connection as T;
  }
}
