import { Inject, Injectable, Logger } from '@nestjs/common';
import type { Announcement } from '@fabric/contracts';
import { CatalogService } from '../../catalog/catalog.service';
import { aggregateCache, aggregateTools, type CacheFleetStats, type ToolFleetStats } from '../../fleet/fleet-stats';
import { GatewayPresenceService } from '../../fleet/gateway-presence.service';
import { STATS_WINDOW_MS } from '../../fleet/tool-stats';
import { GATEWAY_ENV, type GatewayEnv } from '../../gateway.config';
import { SessionStore } from '../../protocol/session-2025/session.store';
import { TaskStore } from '../../tasks/task.store';

/** One replica of a service, as its last announcement told. */
export interface ServiceReplicaView {
  instance: string;
  version: string;
  state: Announcement['state'];
  /** Calls and tasks it runs (null: its kit does not say). */
  inFlight: number | null;
  /** Milliseconds since it was last heard. */
  lastSeenMs: number;
}

/** One gateway replica, as its presence told. */
export interface GatewayReplicaView {
  replica: string;
  version: string;
  host: string;
  pid: number;
  uptimeMs: number;
  lastSeenMs: number;
  /** The replica serving this page. */
  self: boolean;
  /** Tool calls it served over the stats window. */
  calls: number;
}

/** What the admin page shows, pushed on its event stream. */
export interface AdminSnapshot {
  at: number;
  /** Span the tool numbers cover. */
  windowMs: number;
  services: { name: string; replicas: ServiceReplicaView[] }[];
  gateways: GatewayReplicaView[];
  tools: ToolFleetStats[];
  cache: CacheFleetStats;
  /** Session records in KV (null: unknown now). */
  sessions: number | null;
  /** Task records in KV and task work queued or running (null: unknown now). */
  tasks: { records: number; queued: number } | null;
}

interface StoreCounts {
  sessions: number | null;
  tasks: { records: number; queued: number } | null;
}

/** A first snapshot waits this long at most for the stores' counts; later ones use the last known. */
const COUNTS_WAIT_MS = 500;

/**
 * Builds the admin page's snapshots: the fleet from the catalog's announcements and the gateways' presence,
 * the tools' numbers added up across the gateways, the stores' sizes from their streams' states (read at
 * most once per refresh, never awaited for longer than a moment: a slow NATS must not stall the page).
 */
@Injectable()
export class AdminSnapshots {
  private readonly log = new Logger('AdminSnapshots');
  private counts: StoreCounts = { sessions: null, tasks: null };
  private countsAt = 0;
  private refreshing?: Promise<void>;

  constructor(
    @Inject(CatalogService) private readonly catalog: CatalogService,
    @Inject(GatewayPresenceService) private readonly presence: GatewayPresenceService,
    @Inject(SessionStore) private readonly sessions: SessionStore,
    @Inject(TaskStore) private readonly tasks: TaskStore,
    @Inject(GATEWAY_ENV) private readonly env: GatewayEnv,
  ) {}

  async build(now = Date.now()): Promise<AdminSnapshot> {
    const counts = this.refreshCounts(now);
    if (this.countsAt === 0) {
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([counts, new Promise((resolve) => (timer = setTimeout(resolve, COUNTS_WAIT_MS)))]);
      clearTimeout(timer);
    }
    const gateways = this.presence.live(now);
    const presences = gateways.map((entry) => entry.presence);
    return {
      at: now,
      windowMs: STATS_WINDOW_MS,
      services: this.services(now),
      gateways: gateways.map(({ presence, lastSeen, self }) => ({
        replica: presence.replica,
        version: presence.version,
        host: presence.host,
        pid: presence.pid,
        uptimeMs: Math.max(0, presence.sentAt - presence.startedAt + (now - lastSeen)),
        lastSeenMs: now - lastSeen,
        self,
        calls: presence.tools.reduce((sum, tool) => sum + tool.ok + tool.errors, 0),
      })),
      tools: aggregateTools(
        presences,
        this.catalog.snapshot.tools.map((tool) => tool.publicName),
      ),
      cache: aggregateCache(presences),
      ...this.counts,
    };
  }

  private services(now: number): AdminSnapshot['services'] {
    const byService = new Map<string, ServiceReplicaView[]>();
    for (const instance of this.catalog.fleet) {
      const name = instance.manifest.service;
      let replicas = byService.get(name);
      if (!replicas) byService.set(name, (replicas = []));
      replicas.push({
        instance: instance.instanceId,
        version: instance.manifest.version,
        state: instance.state,
        inFlight: instance.inFlight ?? null,
        lastSeenMs: now - instance.lastSeen,
      });
    }
    return [...byService]
      .sort(([a], [b]) => a.localeCompare(b))
      .map(([name, replicas]) => ({ name, replicas: replicas.sort((a, b) => a.instance.localeCompare(b.instance)) }));
  }

  /** Reads the stores' counts again when the last read is a refresh old (one read at a time). */
  private refreshCounts(now: number): Promise<void> {
    if (this.refreshing || now - this.countsAt < this.env.ADMIN_REFRESH_MS / 2)
      return this.refreshing ?? Promise.resolve();
    this.refreshing = (async () => {
      const [sessions, tasks] = await Promise.allSettled([this.sessions.count(), this.tasks.counts()]);
      for (const outcome of [sessions, tasks])
        if (outcome.status === 'rejected') this.log.debug({ err: outcome.reason }, 'cannot count sessions or tasks');
      this.counts = {
        sessions: sessions.status === 'fulfilled' ? sessions.value : null,
        tasks: tasks.status === 'fulfilled' ? tasks.value : null,
      };
      this.countsAt = Date.now();
    })().finally(() => (this.refreshing = undefined));
    return this.refreshing;
  }
}
