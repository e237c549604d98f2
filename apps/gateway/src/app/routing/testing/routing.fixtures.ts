import { randomBytes } from 'node:crypto';
import {
  CallRequestSchema,
  ProbeRequestSchema,
  fabricSubjects,
  type CallEvent,
  type CallReply,
  type CallRequest,
  type ClientRequest,
  type FabricSubjects,
} from '@fabric/contracts';
import { loadConfig } from '@fabric/platform-config';
import { NatsClient, decodeJson, encodeJson, type Msg, type Subscription } from '@fabric/platform-nats';
import { MetricsRegistry } from '@fabric/platform-observability';
import { gatewayEnvSchema, type GatewayEnv } from '../../gateway.config';
import { CallEventBus } from '../call-events';
import { LostCallDetector, type InstanceDirectory } from '../lost-call.detector';
import { ServiceClient } from '../service.client';

/** The machine's NATS, as the integration specs use it. */
export const NATS_URL = process.env['NATS_URL'] ?? 'nats://127.0.0.1:4222';

/** Polls `check` until it returns a value other than undefined/false, failing after `timeoutMs`. */
export async function eventually<T>(
  what: string,
  check: () => T | undefined | false | Promise<T | undefined | false>,
  timeoutMs = 5_000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value !== undefined && value !== false) return value;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

/** A catalog reduced to what the lost-call detector asks: the instances of each service. */
export class FixedDirectory implements InstanceDirectory {
  readonly instances = new Map<string, string[]>();
  readonly isSettled = true;

  instancesOf(service: string): string[] {
    return this.instances.get(service) ?? [];
  }

  forgetDeparted(): void {
    // nothing to forget: the test decides which instances exist
  }
}

/**
 * The routing units of one gateway replica, wired as the RoutingModule wires them, on a NATS namespace of
 * their own; `replica()` starts service replicas that speak the wire contract by hand.
 */
export class RoutingHarness {
  readonly subjects: FabricSubjects;
  readonly directory = new FixedDirectory();
  readonly metrics = new MetricsRegistry();
  readonly bus: CallEventBus;
  readonly detector: LostCallDetector;
  readonly client: ServiceClient;
  private readonly replicas: FakeReplica[] = [];

  private constructor(
    readonly env: GatewayEnv,
    readonly nats: NatsClient,
  ) {
    this.subjects = fabricSubjects(env.FABRIC_NAMESPACE);
    this.bus = new CallEventBus(nats, env);
    this.bus.onApplicationBootstrap();
    this.detector = new LostCallDetector(nats, this.directory, env);
    this.client = new ServiceClient(nats, this.detector, this.bus, env, this.metrics);
  }

  /** `env` overrides the gateway's environment (probe period, retries, breaker thresholds…). */
  static async start(env: Record<string, string> = {}): Promise<RoutingHarness> {
    const config = loadConfig(gatewayEnvSchema, {
      NATS_URL,
      FABRIC_NAMESPACE: `t${randomBytes(6).toString('hex')}`,
      LOG_LEVEL: 'silent',
      CALL_PROBE_MS: '50',
      ...env,
    });
    const nats = await NatsClient.connect({ url: config.NATS_URL, name: 'routing-spec-gateway' });
    const harness = new RoutingHarness(config, nats);
    await nats.connection.flush();
    return harness;
  }

  /** Starts a replica of `service` (listed in the directory) whose calls `handle` serves. */
  async replica(service: string, instanceId: string, handle: CallHandler): Promise<FakeReplica> {
    const replica = await FakeReplica.start(this.env.NATS_URL, this.subjects, service, instanceId, handle);
    this.replicas.push(replica);
    this.directory.instances.set(service, [...this.directory.instancesOf(service), instanceId]);
    return replica;
  }

  /** A metric's value summed over the series whose labels include `labels`. */
  async metric(name: string, labels: Record<string, string> = {}): Promise<number> {
    const metric = (await this.metrics.registry.getMetricsAsJSON()).find((candidate) => candidate.name === name);
    return (metric?.values ?? [])
      .filter((value) => Object.entries(labels).every(([key, wanted]) => value.labels[key] === wanted))
      .reduce((sum, value) => sum + value.value, 0);
  }

  async stop(): Promise<void> {
    await Promise.all(this.replicas.map((replica) => replica.crash()));
    this.detector.onApplicationShutdown();
    this.bus.onApplicationShutdown();
    await this.nats.close();
  }
}

/** Serves one call at a fake replica: answer with `call.reply(...)`, or never (a replica that dies holding it). */
export type CallHandler = (call: ReceivedCall, replica: FakeReplica) => void | Promise<void>;

/** A call as a replica received it, with the verbs a handler has on the wire. */
export class ReceivedCall {
  constructor(
    readonly request: CallRequest,
    private readonly msg: Msg,
    private readonly nats: NatsClient,
  ) {}

  /** Publishes a progress or log event on the call's events subject. */
  event(event: CallEvent): void {
    this.nats.publishJson(this.request.events!, event);
  }

  /** Sends a request to the call's client and returns the gateway's reply envelope. */
  async ask(method: ClientRequest['method'], params: Record<string, unknown> = {}): Promise<unknown> {
    const request: ClientRequest = { type: 'request', method, params };
    return this.nats.requestJson(this.request.events!, request, { timeoutMs: 5_000 });
  }

  reply(reply: CallReply): void {
    this.nats.respond(this.msg, encodeJson(reply));
  }
}

/**
 * A service replica on its own connection: it joins the service's queue group, answers probes for the calls
 * it holds, and hands each call to its handler. `crash()` drops its connection, as a killed process does.
 */
export class FakeReplica {
  readonly received: CallRequest[] = [];
  /** Calls it holds (answered by probes); a handler's reply releases them. */
  readonly holding = new Set<string>();
  /** Sizes of the probes it was sent, in order. */
  readonly probes: number[] = [];

  private requests?: Subscription;

  private constructor(
    readonly instanceId: string,
    readonly nats: NatsClient,
  ) {}

  /** Leaves the queue group, as a draining replica does: calls sent from now on go to the others. */
  async leave(): Promise<void> {
    this.requests?.unsubscribe();
    await this.nats.connection.flush();
  }

  static async start(
    url: string,
    subjects: FabricSubjects,
    service: string,
    instanceId: string,
    handle: CallHandler,
  ): Promise<FakeReplica> {
    const nats = await NatsClient.connect({ url, name: `routing-spec-${instanceId}` });
    const replica = new FakeReplica(instanceId, nats);
    replica.requests = nats.subscribe(
      subjects.requestWildcard(service),
      (msg) => {
        const request = CallRequestSchema.parse(decodeJson(msg.data));
        replica.received.push(request);
        replica.holding.add(request.id);
        const call = new ReceivedCall(request, msg, nats);
        const reply = call.reply.bind(call);
        call.reply = (answer) => {
          replica.holding.delete(request.id);
          reply(answer);
        };
        return handle(call, replica);
      },
      { queue: subjects.queueGroup(service) },
    );
    // As the kit answers: the subset of the probed ids it holds; a probe it cannot read gets no `held`.
    nats.subscribe(subjects.probe(service, instanceId), (msg) => {
      const probe = ProbeRequestSchema.safeParse(decodeJson(msg.data));
      replica.probes.push(probe.success ? probe.data.ids.length : -1);
      const answer = probe.success
        ? { held: probe.data.ids.filter((id) => replica.holding.has(id)) }
        : { ok: false, error: { code: 'INVALID_ARGUMENT', message: 'Malformed probe', retryable: false } };
      nats.respond(msg, encodeJson(answer));
    });
    await nats.connection.flush();
    return replica;
  }

  /** Drops the connection (its subscriptions go with it), flushing what it already sent. */
  async crash(): Promise<void> {
    if (!this.nats.connection.isClosed()) await this.nats.close();
  }
}
