import { Inject, Injectable, type OnApplicationShutdown } from '@nestjs/common';
import { FabricError, PROBE_MAX_IDS, ProbeReplySchema, fabricSubjects, type ProbeRequest } from '@fabric/contracts';
import { NatsClient, NoRespondersError } from '@fabric/platform-nats';
import { CatalogService } from '../catalog/catalog.service';
import { GATEWAY_ENV, type GatewayEnv } from '../gateway.config';

/** The replica that took a call died (or lost its connection) before answering: the call will never be answered. */
export class LostCallError extends FabricError {
  constructor(message = 'The replica running the call stopped before answering') {
    super('UNAVAILABLE', message, { retryable: true });
    this.name = 'LostCallError';
  }
}

interface Watched {
  since: number;
  /** Consecutive probes in which every instance answered and none held the call. */
  misses: number;
  lost: (error: LostCallError) => void;
}

/** What the detector reads of the catalog: which instances may hold a service's calls. */
export type InstanceDirectory = Pick<CatalogService, 'instancesOf' | 'isSettled' | 'forgetDeparted'>;

/**
 * Probes in which no instance holds a call before it is declared lost: one more than needed covers a reply
 * still in flight, another a replica whose NATS connection is briefly reconnecting ("no responders").
 */
const MISSES_TO_LOSE = 3;

/**
 * Finds calls whose replica died holding them, so that they fail (or are retried) in about a second
 * instead of waiting for their deadline. Calls running longer than `CALL_PROBE_MS` are checked on that
 * period: every instance of the service (live, or left recently and maybe draining) is asked which of
 * them it holds. An instance whose probe subject has no responders is gone; a call that every instance
 * answered for, or that only gone instances could hold, is lost.
 */
@Injectable()
export class LostCallDetector implements OnApplicationShutdown {
  private readonly subjects;
  private readonly watched = new Map<string, Map<string, Watched>>();
  private readonly timer: NodeJS.Timeout;
  private probing = false;

  constructor(
    @Inject(NatsClient) private readonly nats: NatsClient,
    @Inject(CatalogService) private readonly catalog: InstanceDirectory,
    @Inject(GATEWAY_ENV) private readonly env: GatewayEnv,
  ) {
    this.subjects = fabricSubjects(env.FABRIC_NAMESPACE);
    this.timer = setInterval(() => void this.probeAll(), env.CALL_PROBE_MS);
    this.timer.unref();
  }

  /** Watches a call sent to `service`; `lost` is called if it is found lost. Returns the function that stops watching. */
  watch(service: string, callId: string, lost: (error: LostCallError) => void): () => void {
    let calls = this.watched.get(service);
    if (!calls) this.watched.set(service, (calls = new Map()));
    calls.set(callId, { since: Date.now(), misses: 0, lost });
    return () => calls.delete(callId);
  }

  onApplicationShutdown(): void {
    clearInterval(this.timer);
  }

  private async probeAll(): Promise<void> {
    // Off the bus (reconnecting), no answer would mean anything.
    if (this.probing || !this.nats.isConnected()) return;
    this.probing = true;
    try {
      const oldEnough = Date.now() - this.env.CALL_PROBE_MS;
      await Promise.all(
        [...this.watched].map(([service, calls]) => {
          const ids = [...calls].filter(([, call]) => call.since <= oldEnough).map(([id]) => id);
          return ids.length > 0 ? this.probe(service, calls, ids) : undefined;
        }),
      );
    } finally {
      this.probing = false;
    }
  }

  private async probe(service: string, calls: Map<string, Watched>, ids: string[]): Promise<void> {
    const instances = this.catalog.instancesOf(service);
    // Knowing no instance, or not yet all of them (a young catalog), proves nothing about the calls.
    if (instances.length === 0 || !this.catalog.isSettled) return;
    // A probe carries at most PROBE_MAX_IDS ids (an instance refuses a longer one): more calls, more probes.
    const batches: string[][] = [];
    for (let start = 0; start < ids.length; start += PROBE_MAX_IDS)
      batches.push(ids.slice(start, start + PROBE_MAX_IDS));
    const answers = await Promise.all(instances.map((instanceId) => this.heldBy(service, instanceId, batches)));
    // An instance that did not answer (busy, slow network) may hold any of them: decide nothing this round.
    if (answers.some((answer) => answer === undefined)) return;
    const held = new Set(answers.flat());
    for (const id of ids) {
      const call = calls.get(id);
      if (!call) continue;
      if (held.has(id)) {
        call.misses = 0;
      } else if (++call.misses >= MISSES_TO_LOSE) {
        calls.delete(id);
        call.lost(new LostCallError());
      }
    }
  }

  /**
   * The calls of `batches` one instance holds: none when nobody listens on its probe subject (it is gone),
   * undefined when it did not answer them all in time.
   */
  private async heldBy(service: string, instanceId: string, batches: string[][]): Promise<string[] | undefined> {
    const subject = this.subjects.probe(service, instanceId);
    try {
      const replies = await Promise.all(
        batches.map((ids) =>
          this.nats.requestJson(subject, { ids } satisfies ProbeRequest, { timeoutMs: this.env.CALL_PROBE_MS }),
        ),
      );
      return replies.flatMap((reply) => ProbeReplySchema.parse(reply).held);
    } catch (error) {
      if (!(error instanceof NoRespondersError)) return undefined;
      this.catalog.forgetDeparted(instanceId);
      return [];
    }
  }
}
