import { Inject, Injectable, Logger, type OnApplicationShutdown, type OnModuleInit } from '@nestjs/common';
import type { Server } from '@modelcontextprotocol/sdk/server/index.js';
import type { InitializeRequest, JSONRPCMessage, RequestId } from '@modelcontextprotocol/sdk/types.js';
import { z } from 'zod';
import { ResourceUpdatedSchema, fabricSubjects } from '@fabric/contracts';
import { NatsClient, tryDecodeJson, type Subscription } from '@fabric/platform-nats';
import { HttpDrain, MetricsRegistry } from '@fabric/platform-observability';
import { CatalogService } from '../../catalog/catalog.service';
import { GATEWAY_ENV, type GatewayEnv } from '../../gateway.config';
import { CallEventBus } from '../../routing/call-events';
import { Cancellations } from './cancellations';
import { EventLog } from './event-log';
import { SdkServerFactory } from './sdk-server.factory';
import { SessionStore, type SessionRecord } from './session.store';
import { SessionTransport } from './session.transport';

/** A client's `notifications/cancelled`, passed on to the other replicas (the request may run on any). */
const ForwardedCancelSchema = z.object({
  sessionId: z.string(),
  requestId: z.union([z.string(), z.number()]),
  reason: z.string().optional(),
  /** The replica that received it (and handled it already). */
  from: z.string(),
});

/** A message for a session's GET stream, passed to every replica (the one holding the stream writes it). */
const SessionNotifySchema = z.object({
  sessionId: z.string(),
  message: z.looseObject({ jsonrpc: z.literal('2.0'), method: z.string() }),
});

export interface LiveSession {
  id: string;
  server: Server;
  transport: SessionTransport;
}

/**
 * The SDK servers of the sessions this replica serves, built on first need from the shared session record
 * (a plain tools/call needs none) and kept in an LRU of `MAX_LOCAL_SESSIONS`: an evicted session is rebuilt
 * from its record on its next request, invisibly to the client. Sessions with an open stream or a request
 * in progress here are not evicted. Also the replica's one place for cancellations (see `Cancellations`).
 */
@Injectable()
export class SessionRegistry implements OnModuleInit, OnApplicationShutdown {
  private readonly log = new Logger('Sessions');
  /** Least recently used first. */
  private readonly live = new Map<string, LiveSession>();
  private readonly restoring = new Map<string, Promise<LiveSession>>();
  readonly cancellations = new Cancellations();
  private sweeper?: NodeJS.Timeout;
  private subscriptions: Subscription[] = [];
  private readonly subjects;
  private readonly liveGauge;
  private readonly evictions;
  private readonly cancelsForwarded;

  constructor(
    @Inject(SdkServerFactory) private readonly factory: SdkServerFactory,
    @Inject(SessionStore) private readonly store: SessionStore,
    @Inject(CatalogService) private readonly catalog: CatalogService,
    @Inject(HttpDrain) private readonly drain: HttpDrain,
    @Inject(NatsClient) private readonly nats: NatsClient,
    @Inject(CallEventBus) private readonly bus: CallEventBus,
    @Inject(EventLog) private readonly events: EventLog,
    @Inject(GATEWAY_ENV) private readonly env: GatewayEnv,
    @Inject(MetricsRegistry) metrics: MetricsRegistry,
  ) {
    this.subjects = fabricSubjects(env.FABRIC_NAMESPACE);
    this.liveGauge = metrics.gauge('fabric_gateway_sessions_local', 'Sessions with a live SDK server on this replica');
    this.evictions = metrics.counter(
      'fabric_gateway_session_evictions_total',
      'Session servers dropped from this replica to stay within MAX_LOCAL_SESSIONS (rebuilt on their next request)',
    );
    this.cancelsForwarded = metrics.counter(
      'fabric_gateway_cancellations_received_total',
      "Clients' notifications/cancelled that reached another replica and stopped a request running on this one",
    );
  }

  onModuleInit(): void {
    this.catalog.onChange((change) => {
      for (const session of this.live.values()) {
        if (!session.transport.hasStream) continue;
        if (change.tools) void session.server.sendToolListChanged().catch(() => undefined);
        if (change.prompts) void session.server.sendPromptListChanged().catch(() => undefined);
        if (change.resources) void session.server.sendResourceListChanged().catch(() => undefined);
      }
    });
    this.store.onDeleted((id) => void this.close(id));
    // A stopping replica hands its GET streams back: clients reopen them on another replica.
    this.drain.onDrain(() => {
      for (const session of this.live.values()) session.transport.endStream();
    });
    this.sweeper = setInterval(() => {
      for (const id of this.store.forgetIdle()) void this.close(id);
    }, 5_000);
    this.sweeper.unref();
    this.subscriptions = [
      this.nats.subscribe(this.subjects.clientCancelled, (msg) => {
        const cancel = ForwardedCancelSchema.safeParse(tryDecodeJson(msg.data));
        if (!cancel.success || cancel.data.from === this.bus.replica) return;
        const { sessionId, requestId, reason } = cancel.data;
        if (this.cancellations.cancel(sessionId, requestId, reason ?? 'cancelled by the client')) {
          this.cancelsForwarded.inc();
        }
      }),
      this.nats.subscribe(this.subjects.sessionNotify, (msg) => {
        const notify = SessionNotifySchema.safeParse(tryDecodeJson(msg.data));
        if (notify.success) this.notifyHere(notify.data.sessionId, notify.data.message as JSONRPCMessage);
      }),
      this.nats.subscribe(this.subjects.resourceUpdated, (msg) => {
        const updated = ResourceUpdatedSchema.safeParse(tryDecodeJson(msg.data));
        if (updated.success) void this.resourceUpdated(updated.data.uri);
      }),
    ];
  }

  /**
   * A client's `notifications/cancelled`: stops the request here, and passes it on to the other replicas
   * (the request may run on any).
   */
  cancel(sessionId: string, requestId: RequestId, reason: string | undefined): void {
    this.cancellations.cancel(sessionId, requestId, reason ?? 'cancelled by the client');
    if (this.nats.connection.isClosed()) return;
    this.nats.publishJson(this.subjects.clientCancelled, { sessionId, requestId, reason, from: this.bus.replica });
  }

  /**
   * Sends a notification on the session's GET stream, on whichever replica holds it (none: it is dropped, as
   * every message not tied to a request is when the client has no stream open).
   */
  notify(sessionId: string, message: JSONRPCMessage): void {
    if (this.nats.connection.isClosed()) return;
    this.nats.publishJson(this.subjects.sessionNotify, { sessionId, message });
  }

  /**
   * Sends a notification on the session's GET stream if this replica holds it; false when it does not (another
   * replica may, or none).
   */
  notifyHere(sessionId: string, message: JSONRPCMessage): boolean {
    if (!this.holdsStream(sessionId)) return false;
    void this.live
      .get(sessionId)!
      .transport.send(message)
      .catch(() => undefined);
    return true;
  }

  /** Whether this replica holds the session's GET stream now. */
  holdsStream(sessionId: string): boolean {
    return this.live.get(sessionId)?.transport.hasStream === true;
  }

  /** Tells the sessions whose stream is on this replica and that subscribed to `uri`. */
  private async resourceUpdated(uri: string): Promise<void> {
    for (const session of this.live.values()) {
      if (!session.transport.hasStream) continue;
      const record = await this.store.get(session.id);
      if (record?.subscriptions?.includes(uri))
        await session.server.sendResourceUpdated({ uri }).catch(() => undefined);
    }
  }

  /** After the HTTP server has drained: nothing can reach these sessions any more. */
  async onApplicationShutdown(): Promise<void> {
    if (this.sweeper) clearInterval(this.sweeper);
    for (const subscription of this.subscriptions) subscription.unsubscribe();
    await Promise.all([...this.live.keys()].map((id) => this.close(id)));
  }

  /** Stores the record of a new session, from its initialize request and negotiated version. */
  async persist(
    id: string,
    initialize: InitializeRequest['params'],
    protocolVersion: string,
    principal?: string,
  ): Promise<void> {
    await this.store.create({
      id,
      createdAt: Date.now(),
      protocolVersion,
      initialize: initialize as Record<string, unknown>,
      ...(principal !== undefined ? { principal } : {}),
    });
  }

  /** The live session for `record`, (re)built on this replica (initialize replayed) when not held here. */
  async open(record: SessionRecord): Promise<LiveSession> {
    const existing = this.live.get(record.id);
    if (existing) {
      // Most recently used last.
      this.live.delete(record.id);
      this.live.set(record.id, existing);
      return existing;
    }
    let pending = this.restoring.get(record.id);
    if (!pending) {
      pending = this.restore(record).finally(() => this.restoring.delete(record.id));
      this.restoring.set(record.id, pending);
    }
    return pending;
  }

  /** Number of sessions with a live SDK server here. */
  get size(): number {
    return this.live.size;
  }

  private async restore(record: SessionRecord): Promise<LiveSession> {
    const session = await this.build(record.id);
    const initialize: JSONRPCMessage = {
      jsonrpc: '2.0',
      id: `restore-${record.id}`,
      method: 'initialize',
      params: record.initialize,
    };
    await session.transport.replay(initialize);
    await session.transport.replay({ jsonrpc: '2.0', method: 'notifications/initialized' });
    this.keep(session);
    this.log.debug(`restored session ${record.id}`);
    return session;
  }

  private async build(id: string): Promise<LiveSession> {
    const transport = new SessionTransport(id, this.events);
    transport.onAnswered = (requestId) => this.cancellations.finished(id, requestId);
    const server = this.factory.create(id);
    await server.connect(transport);
    return { id, server, transport };
  }

  /** Holds a session, evicting the least recently used idle ones beyond `MAX_LOCAL_SESSIONS`. */
  private keep(session: LiveSession): void {
    this.live.set(session.id, session);
    let excess = this.live.size - this.env.MAX_LOCAL_SESSIONS;
    if (excess > 0) {
      for (const [id, candidate] of this.live) {
        if (excess <= 0) break;
        if (candidate === session || candidate.transport.busy) continue;
        this.live.delete(id);
        excess--;
        this.evictions.inc();
        void candidate.server.close().catch(() => undefined);
      }
    }
    this.liveGauge.set(this.live.size);
  }

  /** Deletes a session everywhere. */
  async delete(id: string): Promise<void> {
    await this.store.delete(id);
    await this.close(id);
  }

  /** The session ended (deleted, expired): its requests running here stop, its server goes. */
  private async close(id: string): Promise<void> {
    this.cancellations.cancelSession(id, 'session closed');
    const session = this.live.get(id);
    if (!session) return;
    this.live.delete(id);
    this.liveGauge.set(this.live.size);
    await session.server.close().catch(() => undefined);
  }
}
