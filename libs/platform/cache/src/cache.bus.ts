import {
  ALL_CACHE_SPACES,
  CacheInvalidationAckSchema,
  CacheInvalidationSchema,
  CacheMemberSchema,
  type CacheInvalidation,
  type CacheMember,
  type FabricSubjects,
} from '@fabric/contracts';
import { encodeJson, tryDecodeJson, type Msg, type NatsClient, type Subscription } from '@fabric/platform-nats';
import { randomUUID } from 'node:crypto';
import { hostname } from 'node:os';
import type { CacheEnv } from './cache.config';
import type { CacheMetrics } from './cache.metrics';
import type { CacheBusListener, CacheLogger } from './cache.types';

export interface CacheBusOptions {
  nats: NatsClient;
  /** `fabricSubjects(namespace)`. */
  subjects: FabricSubjects;
  /** Unique id of this process on the bus. */
  member: string;
  /** The spaces this process holds entries of: `['*']` for a gateway, `[service]` for a service. */
  spaces: readonly string[];
  heartbeatMs: number;
  invalidationTimeoutMs: number;
  logger?: CacheLogger;
  now?: () => number;
}

interface LiveMember {
  spaces: readonly string[];
  heartbeatMs: number;
  lastSeen: number;
}

/**
 * The invalidation bus over NATS: hears the invalidations of the spaces this process holds and acks them
 * once its local entries are gone, announces this process as a member on a heartbeat, keeps the live
 * members, and broadcasts this process's invalidations, waiting for every live member's ack.
 */
export class CacheBus {
  private readonly members = new Map<string, LiveMember>();
  private readonly subscriptions: Subscription[] = [];
  private listener?: CacheBusListener;
  private metrics?: CacheMetrics;
  private logger?: CacheLogger;
  private heartbeat?: NodeJS.Timeout;
  private removeReconnectListener?: () => void;
  /** When this process announced itself (after a start or a reconnect); the local level waits a beat. */
  private announcedAt?: number;
  private wasConnected = false;
  private closed = false;
  private readonly now: () => number;

  constructor(private readonly options: CacheBusOptions) {
    this.now = options.now ?? Date.now;
  }

  /** A bus with the heartbeat and timeout of the `cacheEnvShape` variables; member id `host/pid/random`. */
  static fromEnv(
    nats: NatsClient,
    subjects: FabricSubjects,
    env: CacheEnv,
    options: { spaces: readonly string[]; member?: string; logger?: CacheLogger },
  ): CacheBus {
    return new CacheBus({
      nats,
      subjects,
      member: options.member ?? `${hostname()}/${process.pid}/${randomUUID().slice(0, 8)}`,
      spaces: options.spaces,
      heartbeatMs: env.CACHE_HEARTBEAT_MS,
      invalidationTimeoutMs: env.CACHE_INVALIDATION_TIMEOUT_MS,
      logger: options.logger,
    });
  }

  get member(): string {
    return this.options.member;
  }

  /** Called by `Cache.connectBus`: subscribes, announces and starts the heartbeat. */
  start(listener: CacheBusListener, metrics: CacheMetrics, logger?: CacheLogger): void {
    this.listener = listener;
    this.metrics = metrics;
    this.logger = this.options.logger ?? logger;
    const { nats, subjects, spaces } = this.options;
    const invalidationSubjects = spaces.includes(ALL_CACHE_SPACES)
      ? [subjects.cacheInvalidateAll]
      : spaces.map((space) => subjects.cacheInvalidate(space));
    for (const subject of invalidationSubjects) {
      this.subscriptions.push(nats.subscribe(subject, (msg) => this.heard(msg)));
    }
    this.subscriptions.push(nats.subscribe(subjects.cacheMembers, (msg) => this.memberHeard(msg)));
    this.wasConnected = nats.isConnected();
    this.removeReconnectListener = nats.onReconnect(() => this.reconnected());
    this.announce();
    this.heartbeat = setInterval(() => this.beat(), this.options.heartbeatMs);
    this.heartbeat.unref();
  }

  /**
   * True while the local level may be used: NATS is up and one heartbeat has passed since this process
   * announced itself (before that, others may not wait for its acks). A lost connection clears the level.
   */
  localUsable(): boolean {
    if (this.closed) return false;
    const connected = this.options.nats.isConnected();
    if (connected !== this.wasConnected) this.connectionChanged(connected);
    return connected && this.announcedAt !== undefined && this.now() - this.announcedAt >= this.options.heartbeatMs;
  }

  /** Live members heard (this process excluded). */
  memberCount(): number {
    this.sweep();
    return this.members.size;
  }

  /**
   * Publishes an invalidation and resolves once every live member holding `space` has acked it, or after
   * the invalidation timeout (the missing members are warned about and counted).
   */
  async broadcast(space: string, tags: readonly string[], keys: readonly string[]): Promise<void> {
    if (this.closed) return;
    this.sweep();
    const expected = new Set(
      [...this.members]
        .filter(([, member]) => member.spaces.includes(space) || member.spaces.includes(ALL_CACHE_SPACES))
        .map(([id]) => id),
    );
    const invalidation: CacheInvalidation = {
      id: randomUUID(),
      space,
      tags: [...tags],
      keys: [...keys],
      origin: this.options.member,
      sentAt: this.now(),
    };
    const started = process.hrtime.bigint();
    const subject = this.options.subjects.cacheInvalidate(space);
    if (expected.size === 0) {
      this.options.nats.publishJson(subject, invalidation);
      return;
    }
    const acked = new Set<string>();
    await this.options.nats.requestManyJson(subject, invalidation, {
      maxWaitMs: this.options.invalidationTimeoutMs,
      until: (replies) => {
        for (const reply of replies) {
          const ack = CacheInvalidationAckSchema.safeParse(reply);
          if (ack.success) acked.add(ack.data.member);
        }
        return [...expected].every((member) => acked.has(member));
      },
    });
    this.metrics?.invalidationTook(Number(process.hrtime.bigint() - started) / 1e9);
    const missing = [...expected].filter((member) => !acked.has(member));
    if (missing.length > 0) {
      this.metrics?.unackedMembers(missing.length);
      this.logger?.warn(
        { invalidation: invalidation.id, space, missing },
        `cache invalidation not acked in ${this.options.invalidationTimeoutMs} ms by ${missing.length} member(s)`,
      );
    }
  }

  /** Announces that this process leaves and stops listening. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    clearInterval(this.heartbeat);
    this.removeReconnectListener?.();
    for (const subscription of this.subscriptions) subscription.unsubscribe();
    this.options.nats.publishJson(this.options.subjects.cacheMembers, this.announcement(true));
  }

  private heard(msg: Msg): void {
    const parsed = CacheInvalidationSchema.safeParse(tryDecodeJson(msg.data));
    if (!parsed.success || parsed.data.origin === this.options.member) return;
    const invalidation = parsed.data;
    // Heard too late: the sender stopped waiting, so this process may have served stale entries meanwhile.
    if (this.now() - invalidation.sentAt > this.options.invalidationTimeoutMs)
      this.listener?.clearSpace(invalidation.space);
    else this.listener?.drop(invalidation.space, invalidation.tags, invalidation.keys);
    this.options.nats.respond(msg, encodeJson({ member: this.options.member }));
  }

  private memberHeard(msg: Msg): void {
    const parsed = CacheMemberSchema.safeParse(tryDecodeJson(msg.data));
    if (!parsed.success || parsed.data.member === this.options.member) return;
    const member = parsed.data;
    if (member.leaving) {
      this.members.delete(member.member);
      return;
    }
    const known = this.members.has(member.member);
    this.members.set(member.member, { spaces: member.spaces, heartbeatMs: member.heartbeatMs, lastSeen: this.now() });
    // A newcomer learns of this process at once, not a heartbeat later, so it waits for its acks from the start.
    if (!known && !this.closed) this.publishAnnouncement();
  }

  private beat(): void {
    this.localUsable(); // notices a lost or regained connection even when nothing reads the cache
    this.publishAnnouncement();
    this.sweep();
  }

  private reconnected(): void {
    if (this.closed) return;
    // An outage between two polls (no read, no beat while it lasted) is seen only here: it counts all the same.
    if (this.wasConnected) this.connectionChanged(false);
    this.connectionChanged(true);
  }

  private connectionChanged(connected: boolean): void {
    this.wasConnected = connected;
    if (!connected) {
      // Invalidations sent meanwhile do not reach this process: nothing it holds can be trusted after.
      this.announcedAt = undefined;
      this.listener?.clearAll();
      return;
    }
    this.announce();
  }

  private announce(): void {
    this.announcedAt = this.now();
    this.publishAnnouncement();
  }

  private publishAnnouncement(): void {
    this.options.nats.publishJson(this.options.subjects.cacheMembers, this.announcement(false));
  }

  private announcement(leaving: boolean): CacheMember {
    return {
      member: this.options.member,
      spaces: [...this.options.spaces],
      heartbeatMs: this.options.heartbeatMs,
      ...(leaving ? { leaving: true } : {}),
      sentAt: this.now(),
    };
  }

  /** Forgets members not heard for three beats (theirs). */
  private sweep(): void {
    const now = this.now();
    for (const [id, member] of this.members)
      if (now - member.lastSeen > 3 * member.heartbeatMs) this.members.delete(id);
  }
}
