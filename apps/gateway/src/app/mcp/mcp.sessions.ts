import { Inject, Injectable, Logger, type OnApplicationShutdown, type OnModuleInit } from '@nestjs/common';
import { randomUUID } from 'node:crypto';
import type { Server } from '@modelcontextprotocol/sdk/server/index.js';
import type { InitializeRequest, JSONRPCMessage } from '@modelcontextprotocol/sdk/types.js';
import { HttpDrain, MetricsRegistry } from '@fabric/platform-observability';
import { CatalogService } from '../catalog/catalog.service';
import { McpServerFactory } from './mcp-server.factory';
import { SessionStore, type SessionRecord } from './session.store';
import { SessionTransport } from './session.transport';

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
  private readonly liveGauge;

  constructor(
    @Inject(McpServerFactory) private readonly factory: McpServerFactory,
    @Inject(SessionStore) private readonly store: SessionStore,
    @Inject(CatalogService) private readonly catalog: CatalogService,
    @Inject(HttpDrain) private readonly drain: HttpDrain,
    @Inject(MetricsRegistry) metrics: MetricsRegistry,
  ) {
    this.liveGauge = metrics.gauge('fabric_gateway_sessions_local', 'Sessions with a live server on this replica');
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
  }

  /** After the HTTP server has drained: nothing can reach these sessions any more. */
  async onApplicationShutdown(): Promise<void> {
    if (this.sweeper) clearInterval(this.sweeper);
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
    const transport = new SessionTransport(id);
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
