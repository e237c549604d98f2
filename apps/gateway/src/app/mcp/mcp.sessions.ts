import { Inject, Injectable, Logger, type OnApplicationShutdown, type OnModuleInit } from '@nestjs/common';
import { randomUUID } from 'node:crypto';
import type { Server } from '@modelcontextprotocol/sdk/server/index.js';
import type { InitializeRequest, JSONRPCMessage, RequestId } from '@modelcontextprotocol/sdk/types.js';
import { z } from 'zod';
import { ResourceUpdatedSchema, fabricSubjects } from '@fabric/contracts';
import { NatsClient, tryDecodeJson, type Subscription } from '@fabric/platform-nats';
import { HttpDrain, MetricsRegistry } from '@fabric/platform-observability';
import { CatalogService } from '../catalog/catalog.service';
import { GATEWAY_ENV, type GatewayEnv } from '../gateway.config';
import { CallEventBus } from '../routing/call-events';
import { EventLog } from './event-log';
import { McpServerFactory } from './mcp-server.factory';
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

export interface LiveSession {
  id: string;
  server: Server;
  transport: SessionTransport;
}

/**
 * The sessions this replica is serving right now: an SDK server and transport each, built on first use
 * from the shared session record, closed when the session is deleted anywhere or goes idle.
 */
@Injectable()
export class McpSessions implements OnModuleInit, OnApplicationShutdown {
  private readonly log = new Logger('McpSessions');
  private readonly live = new Map<string, LiveSession>();
  private readonly restoring = new Map<string, Promise<LiveSession>>();
  private sweeper?: NodeJS.Timeout;
  private subscriptions: Subscription[] = [];
  private readonly subjects;
  private readonly liveGauge;
  private readonly cancelsForwarded;

  constructor(
    @Inject(McpServerFactory) private readonly factory: McpServerFactory,
    @Inject(SessionStore) private readonly store: SessionStore,
    @Inject(CatalogService) private readonly catalog: CatalogService,
    @Inject(HttpDrain) private readonly drain: HttpDrain,
    @Inject(NatsClient) private readonly nats: NatsClient,
    @Inject(CallEventBus) private readonly bus: CallEventBus,
    @Inject(EventLog) private readonly events: EventLog,
    @Inject(GATEWAY_ENV) env: GatewayEnv,
    @Inject(MetricsRegistry) metrics: MetricsRegistry,
  ) {
    this.subjects = fabricSubjects(env.FABRIC_NAMESPACE);
    this.liveGauge = metrics.gauge('fabric_gateway_sessions_local', 'Sessions with a live server on this replica');
    this.cancelsForwarded = metrics.counter(
      'fabric_gateway_cancellations_received_total',
      "Clients' notifications/cancelled that reached another replica and stopped a request running on this one",
    );
  }

  onModuleInit(): void {
    this.catalog.onChange((change) => {
      for (const session of this.live.values()) {
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
        const session = this.live.get(cancel.data.sessionId);
        if (!session?.transport.runs(cancel.data.requestId)) return;
        this.cancelsForwarded.inc();
        session.transport.cancel(cancel.data.requestId, cancel.data.reason);
      }),
      this.nats.subscribe(this.subjects.resourceUpdated, (msg) => {
        const updated = ResourceUpdatedSchema.safeParse(tryDecodeJson(msg.data));
        if (updated.success) void this.resourceUpdated(updated.data.uri);
      }),
    ];
  }

  /** Passes a client's `notifications/cancelled` on to the other replicas: the request may run on any. */
  forwardCancel(sessionId: string, requestId: RequestId, reason: string | undefined): void {
    if (this.nats.connection.isClosed()) return;
    this.nats.publishJson(this.subjects.clientCancelled, { sessionId, requestId, reason, from: this.bus.replica });
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

  /** A new session for an `initialize` request; its record is stored by `persist` before the reply is sent. */
  async create(): Promise<LiveSession> {
    const session = await this.build(randomUUID());
    this.live.set(session.id, session);
    this.liveGauge.set(this.live.size);
    return session;
  }

  /** Stores the record of a session created by `create`, from its initialize request and negotiated version. */
  async persist(id: string, initialize: InitializeRequest['params'], protocolVersion: string): Promise<void> {
    try {
      await this.store.create({
        id,
        createdAt: Date.now(),
        protocolVersion,
        initialize: initialize as Record<string, unknown>,
      });
    } catch (error) {
      // Without a record the session exists nowhere; do not keep its server here either.
      await this.close(id);
      throw error;
    }
  }

  /** The live session for `record`, restoring it on this replica (initialize replayed) when first seen here. */
  async open(record: SessionRecord): Promise<LiveSession> {
    const existing = this.live.get(record.id);
    if (existing) return existing;
    let pending = this.restoring.get(record.id);
    if (!pending) {
      pending = this.restore(record).finally(() => this.restoring.delete(record.id));
      this.restoring.set(record.id, pending);
    }
    return pending;
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
    this.live.set(record.id, session);
    this.liveGauge.set(this.live.size);
    this.log.debug(`restored session ${record.id}`);
    return session;
  }

  private async build(id: string): Promise<LiveSession> {
    const transport = new SessionTransport(id, this.events);
    const server = this.factory.create(id);
    await server.connect(transport);
    return { id, server, transport };
  }

  /** Deletes a session everywhere. */
  async delete(id: string): Promise<void> {
    await this.store.delete(id);
    await this.close(id);
  }

  private async close(id: string): Promise<void> {
    const session = this.live.get(id);
    if (!session) return;
    this.live.delete(id);
    this.liveGauge.set(this.live.size);
    await session.server.close().catch(() => undefined);
  }
}
