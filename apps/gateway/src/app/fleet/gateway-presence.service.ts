import { Inject, Injectable, Logger, type OnApplicationBootstrap, type OnApplicationShutdown } from '@nestjs/common';
import { hostname } from 'node:os';
import { GatewayPresenceSchema, fabricSubjects, type GatewayPresence } from '@fabric/contracts';
import { NatsClient, tryDecodeJson, type Subscription } from '@fabric/platform-nats';
import { GATEWAY_ENV, type GatewayEnv } from '../gateway.config';
import { SERVER_INFO } from '../gateway.info';
import { CallEventBus } from '../routing/call-events';
import { GatewayRoster, type GatewayEntry } from './fleet-stats';
import { ToolStats } from './tool-stats';

/** How often a gateway tells the others it is alive (and its tool stats). */
export const PRESENCE_HEARTBEAT_MS = 2_000;

/**
 * The gateway replicas of the fleet: each publishes its presence (replica id, version, uptime, its tool
 * stats' digest) on a heartbeat and hears everyone's, so any replica can show the whole fleet and add up
 * its numbers. A replica that stops says so; one that dies is dropped after a few missed beats.
 */
@Injectable()
export class GatewayPresenceService implements OnApplicationBootstrap, OnApplicationShutdown {
  private readonly log = new Logger('GatewayPresence');
  private readonly subject;
  private readonly roster = new GatewayRoster();
  private subscription?: Subscription;
  private heartbeat?: NodeJS.Timeout;
  private readonly host = hostname();

  constructor(
    @Inject(NatsClient) private readonly nats: NatsClient,
    @Inject(GATEWAY_ENV) env: GatewayEnv,
    @Inject(ToolStats) private readonly stats: ToolStats,
    @Inject(CallEventBus) private readonly events: CallEventBus,
  ) {
    this.subject = fabricSubjects(env.FABRIC_NAMESPACE).gatewayPresence;
  }

  /** This replica's id (the one services and other replicas address it by). */
  get replica(): string {
    return this.events.replica;
  }

  onApplicationBootstrap(): void {
    this.subscription = this.nats.subscribe(this.subject, (msg) => {
      const presence = GatewayPresenceSchema.safeParse(tryDecodeJson(msg.data));
      if (!presence.success) this.log.warn('ignored a malformed gateway presence');
      else if (presence.data.replica !== this.replica) this.roster.accept(presence.data);
    });
    this.beat();
    this.heartbeat = setInterval(() => this.beat(), PRESENCE_HEARTBEAT_MS);
    this.heartbeat.unref();
  }

  onApplicationShutdown(): void {
    if (this.heartbeat) clearInterval(this.heartbeat);
    this.subscription?.unsubscribe();
    if (!this.nats.connection.isClosed()) this.nats.publishJson(this.subject, { ...this.presence(), leaving: true });
  }

  /** The live replicas, this one first with its stats as of now, then the others as last heard. */
  live(now = Date.now()): (GatewayEntry & { self: boolean })[] {
    if (this.nats.isConnected()) this.roster.sweep(now);
    const others = this.roster.live().map((entry) => ({ ...entry, self: false }));
    return [{ presence: this.presence(now), lastSeen: now, self: true }, ...others];
  }

  private beat(): void {
    if (this.nats.connection.isClosed()) return;
    this.nats.publishJson(this.subject, this.presence());
  }

  private presence(now = Date.now()): GatewayPresence {
    return {
      replica: this.replica,
      version: SERVER_INFO.version,
      host: this.host,
      pid: process.pid,
      startedAt: this.stats.startedAt,
      heartbeatMs: PRESENCE_HEARTBEAT_MS,
      windowMs: this.stats.windowMs(now),
      tools: this.stats.digest(now),
      sentAt: now,
    };
  }
}
