import { Inject, Injectable, Logger, type OnApplicationBootstrap, type OnApplicationShutdown } from '@nestjs/common';
import { randomUUID } from 'node:crypto';
import { AnnouncementSchema, GoodbyeSchema, fabricSubjects, type Announcement } from '@fabric/contracts';
import { NatsClient, tryDecodeJson, type Subscription } from '@fabric/platform-nats';
import { MetricsRegistry, ReadinessRegistry } from '@fabric/platform-observability';
import { GATEWAY_ENV, type GatewayEnv } from '../gateway.config';
import { CatalogSnapshot, liveServices } from './catalog.snapshot';

/** Which lists changed from one snapshot to the next. */
export interface CatalogChange {
  tools: boolean;
  prompts: boolean;
  resources: boolean;
}

/** An instance's last announcement, and when it was heard. */
export type HeardInstance = Announcement & { lastSeen: number };

type ChangeListener = (change: CatalogChange, snapshot: CatalogSnapshot) => void;

/** An instance is dropped after this many missed heartbeats. */
const MISSED_BEATS = 3;
/** How long an instance that left is still asked about calls it may hold (it drains, or its dependency recovers). */
const DEPARTED_KEEP_MS = 10 * 60_000;

/**
 * The catalog of what live services offer, built at run time from their announcements: instances that
 * stop beating or say goodbye leave it, and listeners hear which lists changed.
 */
@Injectable()
export class CatalogService implements OnApplicationBootstrap, OnApplicationShutdown {
  private readonly log = new Logger('Catalog');
  private readonly subjects;
  private readonly gatewayId = randomUUID();
  private readonly instances = new Map<string, HeardInstance>();
  /** Every instance heard from lately, whatever its state (the catalog itself holds the ready ones). */
  private readonly heard = new Map<string, HeardInstance>();
  /** Instances that left the catalog recently: they may still be finishing calls. */
  private readonly departed = new Map<string, { service: string; at: number }>();
  private readonly listeners: ChangeListener[] = [];
  private subscriptions: Subscription[] = [];
  private sweeper?: NodeJS.Timeout;
  private loaded = false;
  private loadedAt?: number;
  private current: CatalogSnapshot;
  private readonly liveInstances;

  constructor(
    @Inject(NatsClient) private readonly nats: NatsClient,
    @Inject(GATEWAY_ENV) private readonly env: GatewayEnv,
    @Inject(ReadinessRegistry) readiness: ReadinessRegistry,
    @Inject(MetricsRegistry) metrics: MetricsRegistry,
  ) {
    this.subjects = fabricSubjects(env.FABRIC_NAMESPACE);
    this.current = new CatalogSnapshot(new Map(), { prefix: env.TOOL_NAME_PREFIX });
    this.liveInstances = metrics.gauge('fabric_gateway_catalog_instances', 'Live service instances in the catalog', [
      'service',
    ]);
    readiness.register('catalog', () => {
      if (!this.loaded) throw new Error('catalog not loaded yet');
    });
  }

  /** The current snapshot; replaced (never mutated) on every change. */
  get snapshot(): CatalogSnapshot {
    return this.current;
  }

  get isLoaded(): boolean {
    return this.loaded;
  }

  /** Loaded long enough that every live instance has announced itself at least once (three heartbeats). */
  get isSettled(): boolean {
    return this.loadedAt !== undefined && Date.now() - this.loadedAt > this.settleMs;
  }

  /** Three beats of the slowest heartbeat seen (of the default 2 s before any is seen). */
  private get settleMs(): number {
    let slowest = 0;
    for (const instance of this.instances.values()) slowest = Math.max(slowest, instance.heartbeatMs);
    return (slowest || 2_000) * MISSED_BEATS;
  }

  /** Every instance alive now, ready or not (draining, unready), as last heard: the fleet, for the admin page. */
  get fleet(): readonly HeardInstance[] {
    return [...this.heard.values()];
  }

  onChange(listener: ChangeListener): void {
    this.listeners.push(listener);
  }

  /** Every instance of a service that may be running one of its calls: the live ones and those that left recently. */
  instancesOf(service: string): string[] {
    const ids: string[] = [];
    for (const [id, instance] of this.instances) if (instance.manifest.service === service) ids.push(id);
    for (const [id, departed] of this.departed) if (departed.service === service) ids.push(id);
    return ids;
  }

  /** Forgets an instance that left and is known to be gone (its NATS connection no longer exists). */
  forgetDeparted(instanceId: string): void {
    this.departed.delete(instanceId);
  }

  private remove(instanceId: string): boolean {
    const instance = this.instances.get(instanceId);
    if (!instance) return false;
    this.instances.delete(instanceId);
    this.departed.set(instanceId, { service: instance.manifest.service, at: Date.now() });
    return true;
  }

  async onApplicationBootstrap(): Promise<void> {
    this.subscriptions = [
      this.nats.subscribe(this.subjects.announce, (msg) => this.accept(tryDecodeJson(msg.data))),
      this.nats.subscribe(this.subjects.goodbye, (msg) => {
        const goodbye = GoodbyeSchema.safeParse(tryDecodeJson(msg.data));
        if (goodbye.success) this.heard.delete(goodbye.data.instanceId);
        if (goodbye.success && this.remove(goodbye.data.instanceId)) {
          this.log.log(`${goodbye.data.service} instance ${goodbye.data.instanceId} left`);
          this.rebuild();
        }
      }),
    ];
    const replies = await this.nats.requestManyJson(
      this.subjects.hello,
      { gatewayId: this.gatewayId },
      { maxWaitMs: this.env.DISCOVERY_WAIT_MS, stallMs: 300 },
    );
    for (const reply of replies) this.accept(reply, false);
    this.rebuild();
    this.loaded = true;
    this.loadedAt = Date.now();
    this.log.log(`catalog loaded: ${this.current.services.size} service(s), ${this.current.tools.length} tool(s)`);
    this.sweeper = setInterval(() => this.sweep(), 250);
    this.sweeper.unref();
  }

  /** After the HTTP server has drained, so requests in progress still see sessions and the catalog. */
  onApplicationShutdown(): void {
    if (this.sweeper) clearInterval(this.sweeper);
    for (const subscription of this.subscriptions) subscription.unsubscribe();
  }

  private accept(message: unknown, rebuild = true): void {
    const parsed = AnnouncementSchema.safeParse(message);
    if (!parsed.success) {
      this.log.warn('ignored a malformed announcement');
      return;
    }
    const announcement = parsed.data;
    const heard = { ...announcement, lastSeen: Date.now() };
    this.heard.set(announcement.instanceId, heard);
    const known = this.instances.get(announcement.instanceId);
    if (announcement.state !== 'ready') {
      if (known && this.remove(announcement.instanceId)) {
        this.log.log(
          `${announcement.manifest.service} instance ${announcement.instanceId} is ${announcement.state}; removed`,
        );
        if (rebuild) this.rebuild();
      }
      return;
    }
    this.departed.delete(announcement.instanceId);
    this.instances.set(announcement.instanceId, heard);
    const changed = !known || JSON.stringify(known.manifest) !== JSON.stringify(announcement.manifest);
    if (!known) this.log.log(`${announcement.manifest.service} instance ${announcement.instanceId} joined`);
    if (changed && rebuild) this.rebuild();
  }

  private sweep(): void {
    const now = Date.now();
    if (!this.nats.isConnected()) {
      // Silence heard while this gateway is off the bus says nothing about the services: once it is back,
      // every instance gets its missed beats again before it is dropped (the ready ones are among the heard).
      for (const instance of this.heard.values()) instance.lastSeen = now;
      return;
    }
    let removed = false;
    for (const [id, instance] of this.instances) {
      if (now - instance.lastSeen > instance.heartbeatMs * MISSED_BEATS) {
        this.remove(id);
        this.log.warn(`${instance.manifest.service} instance ${id} stopped beating; removed`);
        removed = true;
      }
    }
    for (const [id, instance] of this.heard)
      if (now - instance.lastSeen > instance.heartbeatMs * MISSED_BEATS) this.heard.delete(id);
    for (const [id, departed] of this.departed) if (now - departed.at > DEPARTED_KEEP_MS) this.departed.delete(id);
    if (removed) this.rebuild();
  }

  private rebuild(): void {
    const previous = this.current;
    const next = new CatalogSnapshot(liveServices(this.instances.values()), { prefix: this.env.TOOL_NAME_PREFIX });
    for (const conflict of next.conflicts) {
      this.log.warn(
        `${conflict.kind} name conflict on "${conflict.name}": kept ${conflict.winner}'s, ` +
          (conflict.renamedTo
            ? `${conflict.loser}'s is published as "${conflict.renamedTo}"`
            : `${conflict.loser}'s is not published`),
      );
    }
    this.current = next;
    this.liveInstances.reset();
    for (const [service, live] of next.services) this.liveInstances.set({ service }, live.instances.length);

    const before = previous.fingerprint();
    const after = next.fingerprint();
    const change: CatalogChange = {
      tools: before.tools !== after.tools,
      prompts: before.prompts !== after.prompts,
      resources: before.resources !== after.resources,
    };
    if (!change.tools && !change.prompts && !change.resources) return;
    for (const listener of this.listeners) {
      try {
        listener(change, next);
      } catch (error) {
        this.log.error({ err: error }, 'catalog listener failed');
      }
    }
  }
}
