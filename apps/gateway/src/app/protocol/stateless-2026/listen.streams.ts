import { Inject, Injectable, type OnApplicationShutdown, type OnModuleInit } from '@nestjs/common';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { ResourceUpdatedSchema, fabricSubjects, type Principal } from '@fabric/contracts';
import { NatsClient, tryDecodeJson, type Subscription } from '@fabric/platform-nats';
import { HttpDrain } from '@fabric/platform-observability';
import { CatalogService } from '../../catalog/catalog.service';
import { GATEWAY_ENV, type GatewayEnv } from '../../gateway.config';
import { SSE_HEADERS } from '../../http/sse';
import { Operations } from '../../operations/operations.service';
import { RPC } from '../../operations/rpc.error';
import { META, StatelessRejection, type StatelessRequest } from './stateless-request';

/** The notifications a `subscriptions/listen` stream asked for. */
export interface SubscriptionFilter {
  toolsListChanged?: boolean;
  promptsListChanged?: boolean;
  resourcesListChanged?: boolean;
  resourceSubscriptions?: string[];
}

/** Resource URIs one listen stream may follow (templates match endless URIs). */
const MAX_RESOURCE_SUBSCRIPTIONS = 100;
const KEEPALIVE_MS = 15_000;

interface Listener {
  id: string | number;
  filter: SubscriptionFilter;
  res: ServerResponse;
}

/**
 * `subscriptions/listen` (2026-07-28): a long-lived POST whose response stream carries the notifications
 * the client asked for — list changes of the catalog (which every replica follows) and updates of
 * resources, published on NATS by whichever service instance changed them — so a stream on any replica
 * hears of every change. The stream opens with `notifications/subscriptions/acknowledged`; every
 * notification carries the subscription's id (the request's id) in its `_meta`.
 */
@Injectable()
export class ListenStreams implements OnModuleInit, OnApplicationShutdown {
  private readonly listeners = new Set<Listener>();
  private subscription?: Subscription;

  constructor(
    @Inject(CatalogService) private readonly catalog: CatalogService,
    @Inject(Operations) private readonly operations: Operations,
    @Inject(NatsClient) private readonly nats: NatsClient,
    @Inject(HttpDrain) private readonly drain: HttpDrain,
    @Inject(GATEWAY_ENV) private readonly env: GatewayEnv,
  ) {}

  onModuleInit(): void {
    this.catalog.onChange((change) => {
      for (const listener of this.listeners) {
        const { filter } = listener;
        if (change.tools && filter.toolsListChanged) this.send(listener, 'notifications/tools/list_changed', {});
        if (change.prompts && filter.promptsListChanged) this.send(listener, 'notifications/prompts/list_changed', {});
        if (change.resources && filter.resourcesListChanged)
          this.send(listener, 'notifications/resources/list_changed', {});
      }
    });
    this.subscription = this.nats.subscribe(fabricSubjects(this.env.FABRIC_NAMESPACE).resourceUpdated, (msg) => {
      const updated = ResourceUpdatedSchema.safeParse(tryDecodeJson(msg.data));
      if (!updated.success) return;
      const { uri } = updated.data;
      for (const listener of this.listeners)
        if (listener.filter.resourceSubscriptions?.includes(uri))
          this.send(listener, 'notifications/resources/updated', { uri });
    });
    // A stopping replica ends its streams: clients listen again on another replica.
    this.drain.onDrain(() => {
      for (const listener of this.listeners) listener.res.end();
    });
  }

  onApplicationShutdown(): void {
    this.subscription?.unsubscribe();
    for (const listener of this.listeners) listener.res.end();
  }

  /** Opens a listen stream: it lasts until the client closes it (or this replica stops). */
  async listen(
    req: IncomingMessage,
    res: ServerResponse,
    request: StatelessRequest,
    principal: Principal | undefined,
  ): Promise<void> {
    const filter = filterOf(request);
    for (const uri of filter.resourceSubscriptions ?? []) {
      if (!this.operations.hasResource(uri))
        throw new StatelessRejection(200, RPC.InvalidParams, `Resource not found: ${uri}`, request.id, { uri });
      // Hearing of a resource's changes needs what reading it needs.
      this.operations.authorizeRead(uri, principal ? { principal } : {});
    }
    if (this.drain.isDraining) {
      throw new StatelessRejection(503, RPC.ServerError, 'This replica is stopping; listen again', request.id);
    }
    const listener: Listener = { id: request.id, filter, res };
    res.writeHead(200, SSE_HEADERS);
    this.send(listener, 'notifications/subscriptions/acknowledged', { notifications: filter });
    this.listeners.add(listener);
    const keepalive = setInterval(() => {
      if (!res.writableEnded && !res.destroyed) res.write(': keepalive\n\n');
    }, KEEPALIVE_MS);
    keepalive.unref();
    res.once('close', () => {
      clearInterval(keepalive);
      this.listeners.delete(listener);
    });
    req.once('close', () => {
      if (!res.writableEnded) res.end();
    });
  }

  private send(listener: Listener, method: string, params: Record<string, unknown>): void {
    const { res, id } = listener;
    if (res.writableEnded || res.destroyed) return;
    const message = { jsonrpc: '2.0', method, params: { ...params, _meta: { [META.subscriptionId]: id } } };
    res.write(`event: message\ndata: ${JSON.stringify(message)}\n\n`);
  }
}

function filterOf(request: StatelessRequest): SubscriptionFilter {
  const raw = request.params['notifications'];
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) {
    throw new StatelessRejection(400, RPC.InvalidParams, 'Invalid params: notifications is required', request.id);
  }
  const given = raw as Record<string, unknown>;
  const filter: SubscriptionFilter = {};
  for (const key of ['toolsListChanged', 'promptsListChanged', 'resourcesListChanged'] as const) {
    if (given[key] === true) filter[key] = true;
  }
  const uris = given['resourceSubscriptions'];
  if (uris !== undefined) {
    if (!Array.isArray(uris) || !uris.every((uri) => typeof uri === 'string'))
      throw new StatelessRejection(400, RPC.InvalidParams, 'Invalid params: resourceSubscriptions', request.id);
    if (uris.length > MAX_RESOURCE_SUBSCRIPTIONS)
      throw new StatelessRejection(
        400,
        RPC.InvalidParams,
        `Invalid params: at most ${MAX_RESOURCE_SUBSCRIPTIONS} resource subscriptions`,
        request.id,
      );
    filter.resourceSubscriptions = [...new Set(uris as string[])];
  }
  return filter;
}
