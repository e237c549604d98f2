import { Inject, Injectable, type OnApplicationBootstrap, type OnApplicationShutdown } from '@nestjs/common';
import { z } from 'zod';
import {
  CreateMessageResultSchema,
  CreateMessageResultWithToolsSchema,
  ElicitResultSchema,
  ListRootsResultSchema,
  isJSONRPCErrorResponse,
  isJSONRPCResultResponse,
  type JSONRPCErrorResponse,
  type JSONRPCMessage,
  type JSONRPCResultResponse,
} from '@modelcontextprotocol/sdk/types.js';
import { FabricError, UnavailableError, fabricSubjects, type ClientRequest } from '@fabric/contracts';
import { NatsClient, tryDecodeJson, type Subscription } from '@fabric/platform-nats';
import { MetricsRegistry } from '@fabric/platform-observability';
import { GATEWAY_ENV, type GatewayEnv } from '../../gateway.config';
import { ArgumentValidator } from '../../operations/argument.validator';
import { CallEventBus } from '../../routing/call-events';
import type { Emit } from './direct.exchange';
import { SessionStore } from './session.store';

type ClientResponse = JSONRPCResultResponse | JSONRPCErrorResponse;

/** A client's response that reached another replica, forwarded to the one waiting for it. */
const ForwardedResponseSchema = z.object({
  sessionId: z.string(),
  message: z.record(z.string(), z.unknown()),
});

/** The schema the client's result must satisfy (sampling with tools may answer with several blocks). */
function resultSchemaOf(request: ClientRequest) {
  if (request.method === 'elicitation/create') return ElicitResultSchema;
  if (request.method === 'roots/list') return ListRootsResultSchema;
  return request.params['tools'] ? CreateMessageResultWithToolsSchema : CreateMessageResultSchema;
}

interface Pending {
  sessionId: string;
  resolve(message: ClientResponse): void;
}

/**
 * Server-to-client requests (sampling, elicitation) of the calls this replica runs. Their JSON-RPC ids
 * name this replica (`fabric-<replica>-<n>`), so the client's answer, which may reach any replica, is
 * forwarded over NATS to the one waiting for it.
 */
@Injectable()
export class ClientRequests implements OnApplicationBootstrap, OnApplicationShutdown {
  private readonly subjects;
  private readonly pending = new Map<string, Pending>();
  private readonly idPattern: RegExp;
  private next = 0;
  private subscription?: Subscription;
  private readonly forwarded;

  constructor(
    @Inject(NatsClient) private readonly nats: NatsClient,
    @Inject(CallEventBus) private readonly bus: CallEventBus,
    @Inject(SessionStore) private readonly sessions: SessionStore,
    @Inject(ArgumentValidator) private readonly validator: ArgumentValidator,
    @Inject(GATEWAY_ENV) env: GatewayEnv,
    @Inject(MetricsRegistry) metrics: MetricsRegistry,
  ) {
    this.subjects = fabricSubjects(env.FABRIC_NAMESPACE);
    this.idPattern = /^fabric-([0-9a-f]{12})-\d{1,15}$/;
    this.forwarded = metrics.counter(
      'fabric_gateway_client_responses_forwarded_total',
      "Clients' answers to server-to-client requests that reached another replica and were forwarded to the one waiting",
    );
  }

  onApplicationBootstrap(): void {
    this.subscription = this.nats.subscribe(this.subjects.clientResponses(this.bus.replica), (msg) => {
      const forwarded = ForwardedResponseSchema.safeParse(tryDecodeJson(msg.data));
      if (forwarded.success) this.settle(forwarded.data.sessionId, forwarded.data.message as JSONRPCMessage);
    });
  }

  onApplicationShutdown(): void {
    this.subscription?.unsubscribe();
  }

  /**
   * Sends `request` to the client of `sessionId` on `emit` and resolves with the client's validated result.
   * Fails when the client did not declare the capability, answers with an error or an invalid result, or
   * when `signal` aborts (the client is then told the request is cancelled).
   */
  async send(sessionId: string, request: ClientRequest, emit: Emit, signal?: AbortSignal): Promise<unknown> {
    await this.checkCapability(sessionId, request);
    signal?.throwIfAborted();
    const id = `fabric-${this.bus.replica}-${++this.next}`;
    let onAbort: (() => void) | undefined;
    const answered = new Promise<ClientResponse>((resolve, reject) => {
      this.pending.set(id, { sessionId, resolve });
      onAbort = () => {
        this.pending.delete(id);
        void emit({
          jsonrpc: '2.0',
          method: 'notifications/cancelled',
          params: { requestId: id, reason: 'The call that asked was stopped' },
        }).catch(() => undefined);
        reject(signal!.reason);
      };
      signal?.addEventListener('abort', onAbort, { once: true });
    });
    try {
      await emit({ jsonrpc: '2.0', id, method: request.method, params: request.params });
      const response = await answered;
      if (isJSONRPCErrorResponse(response)) {
        throw new UnavailableError(`The client answered ${request.method} with an error: ${response.error.message}`, {
          retryable: false,
        });
      }
      const result = resultSchemaOf(request).safeParse(response.result);
      if (!result.success) {
        throw new FabricError('INVALID_ARGUMENT', `The client's answer to ${request.method} is not a valid result`, {
          retryable: false,
        });
      }
      this.checkElicited(request, result.data as { action?: unknown; content?: unknown });
      return result.data;
    } finally {
      this.pending.delete(id);
      if (onAbort) signal?.removeEventListener('abort', onAbort);
    }
  }

  /**
   * A response the client posted: settled here or forwarded to the replica that asked. False when it does
   * not answer a request of the fabric (the SDK then handles it).
   */
  accept(sessionId: string, message: JSONRPCMessage): boolean {
    if (!isJSONRPCResultResponse(message) && !isJSONRPCErrorResponse(message)) return false;
    const replica = typeof message.id === 'string' ? this.idPattern.exec(message.id)?.[1] : undefined;
    if (replica === undefined) return false;
    if (replica === this.bus.replica) {
      this.settle(sessionId, message);
    } else if (!this.nats.connection.isClosed()) {
      this.forwarded.inc();
      this.nats.publishJson(this.subjects.clientResponses(replica), { sessionId, message });
    }
    return true;
  }

  private settle(sessionId: string, message: JSONRPCMessage): void {
    if (!isJSONRPCResultResponse(message) && !isJSONRPCErrorResponse(message)) return;
    const pending = this.pending.get(String(message.id));
    // Only the session that was asked can answer.
    if (!pending || pending.sessionId !== sessionId) return;
    this.pending.delete(String(message.id));
    pending.resolve(message);
  }

  /** What a user accepted must match the schema the handler asked for (handlers rely on it). */
  private checkElicited(request: ClientRequest, result: { action?: unknown; content?: unknown }): void {
    const schema = request.params['requestedSchema'] as Record<string, unknown> | undefined;
    if (request.method !== 'elicitation/create' || result.action !== 'accept' || !schema) return;
    const invalid = this.validator.validate(schema, result.content ?? {});
    if (invalid) {
      throw new FabricError('INVALID_ARGUMENT', `The user's answer does not match the requested schema: ${invalid}`, {
        retryable: false,
      });
    }
  }

  private async checkCapability(sessionId: string, request: ClientRequest): Promise<void> {
    const record = await this.sessions.get(sessionId);
    const capabilities = (record?.initialize['capabilities'] ?? {}) as {
      sampling?: { tools?: object; context?: object };
      elicitation?: { form?: object; url?: object };
      roots?: object;
    };
    const unsupported = (what: string) =>
      new UnavailableError(`The client does not support ${what}`, { retryable: false });
    if (request.method === 'sampling/createMessage') {
      const sampling = capabilities.sampling;
      const { tools, toolChoice, includeContext } = request.params;
      if (!sampling) throw unsupported('sampling (sampling/createMessage)');
      if ((tools || toolChoice) && !sampling.tools) throw unsupported('tool use in sampling');
      if (includeContext && includeContext !== 'none' && !sampling.context)
        throw unsupported('includeContext in sampling');
    }
    if (request.method === 'roots/list' && !capabilities.roots) throw unsupported('roots (roots/list)');
    if (request.method === 'elicitation/create') {
      const elicitation = capabilities.elicitation;
      const url = request.params['mode'] === 'url';
      // An empty `elicitation: {}` is form mode (protocol versions before url mode).
      const supported = elicitation && (url ? elicitation.url : elicitation.form || !elicitation.url);
      if (!supported) throw unsupported(`${url ? 'URL' : 'form'} elicitation`);
    }
  }
}
