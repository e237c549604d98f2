import { Inject, Injectable, Logger, type OnApplicationBootstrap } from '@nestjs/common';
import { randomBytes, randomUUID } from 'node:crypto';
import type { ServerResponse } from 'node:http';
import {
  CreateMessageResultSchema,
  CreateMessageResultWithToolsSchema,
  ElicitResultSchema,
  ListRootsResultSchema,
} from '@modelcontextprotocol/sdk/types.js';
import { z } from 'zod';
import {
  CLIENT_REQUEST_METHODS,
  UnavailableError,
  fabricSubjects,
  principalKey,
  type CallReply,
  type Principal,
} from '@fabric/contracts';
import {
  NatsClient,
  RevisionConflictError,
  encodeJson,
  tryDecodeJson,
  type KvBucket,
  type Subscription,
} from '@fabric/platform-nats';
import { GATEWAY_ENV, type GatewayEnv } from '../../gateway.config';
import { RPC, rpcErrorResponse } from '../../operations/rpc.error';
import { successJsonWith } from '../response-json';
import { InvalidRequestStateError, RequestStateSeal, requestStateKey, type RequestState } from './request-state';
import { StatelessRejection, nameOf, type StatelessRequest } from './stateless-request';

/** A request of a running call to its client, waiting for the client's answer in a later HTTP request. */
export interface PendingAsk {
  key: string;
  method: (typeof CLIENT_REQUEST_METHODS)[number];
  params: Record<string, unknown>;
  /** The subject the handler waits on for its `CallReply`. */
  replyTo: string;
  /** The call's deadline (epoch ms), when the service gave it. */
  deadline?: number;
}

/** The JSON-RPC error part of an answer, with its HTTP status. */
export interface ErrorOutcome {
  status: number;
  error: { code: number; message: string; data?: unknown };
}

const PendingAskSchema = z.object({
  key: z.string(),
  method: z.enum(CLIENT_REQUEST_METHODS),
  params: z.record(z.string(), z.unknown()),
  replyTo: z.string().min(1),
  deadline: z.number().optional(),
});

/**
 * What a call that answered its client with an input-required result does next, published by the replica
 * running it on `inputRequired(callId)` for the replica serving the client's retry: more requests to the
 * client, its result, or its failure.
 */
const CallSequelSchema = z.discriminatedUnion('type', [
  z.object({ type: z.literal('input'), asks: z.array(PendingAskSchema).min(1) }),
  z.object({ type: z.literal('result'), result: z.record(z.string(), z.unknown()) }),
  z.object({
    type: z.literal('error'),
    status: z.number().int(),
    error: z.object({ code: z.number().int(), message: z.string(), data: z.unknown().optional() }),
  }),
]);
export type CallSequel = z.infer<typeof CallSequelSchema>;

type Json = Record<string, unknown>;

function isObject(value: unknown): value is Json {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** Whether a client's answer is a valid result of the request it answers. */
function validAnswer(method: PendingAsk['method'], answer: unknown): boolean {
  if (method === 'elicitation/create') return ElicitResultSchema.safeParse(answer).success;
  if (method === 'roots/list') return ListRootsResultSchema.safeParse(answer).success;
  return (
    CreateMessageResultSchema.safeParse(answer).success || CreateMessageResultWithToolsSchema.safeParse(answer).success
  );
}

/** What a retry of the stateless era needs to continue a call. */
export interface Continuation {
  res: ServerResponse;
  request: StatelessRequest;
  principal?: Principal;
  /** Members a final result gains ahead of its own (`resultType`, caching hints), pre-serialized. */
  fields: string;
}

/**
 * Input-required results (MRTR, 2026-07-28) across the fleet. A call's request to its client turns the HTTP
 * answer into an `InputRequiredResult` whose `requestState` is sealed with the fleet's key and names the NATS
 * subject the handler waits on; the handler's NATS request stays unanswered. The client's retry, on any
 * replica, opens the state, uses it once (a KV `create` of its nonce), listens for what the call does next,
 * and publishes the answers straight to the waiting handler. No replica remembers the exchange between the
 * two POSTs: the running call itself (on the replica that started it) is all that waits.
 */
@Injectable()
export class InputRequired implements OnApplicationBootstrap {
  private readonly log = new Logger('InputRequired');
  private readonly seal: RequestStateSeal;
  private readonly subjects;
  private used?: KvBucket;

  constructor(
    @Inject(NatsClient) private readonly nats: NatsClient,
    @Inject(GATEWAY_ENV) private readonly env: GatewayEnv,
  ) {
    this.subjects = fabricSubjects(env.FABRIC_NAMESPACE);
    const key = env.REQUEST_STATE_KEY === undefined ? undefined : requestStateKey(env.REQUEST_STATE_KEY);
    if (!key) {
      this.log.warn(
        'REQUEST_STATE_KEY is not set: this replica seals requestState with a key of its own, so a client ' +
          'answering an input-required result must retry on this replica',
      );
    }
    this.seal = new RequestStateSeal(key ?? randomBytes(32));
  }

  async onApplicationBootstrap(): Promise<void> {
    // A used nonce must be remembered as long as its state could be presented: the states' longest lifetime.
    this.used = await this.nats.keyValue(`${this.env.FABRIC_NAMESPACE}_request_states`, {
      history: 1,
      ttlMs: this.env.REQUEST_STATE_TTL_MS,
    });
  }

  /** The JSON text of an input-required answer to `request` asking `asks` of the client, with its sealed state. */
  answerJson(request: StatelessRequest, principal: Principal | undefined, callId: string, asks: PendingAsk[]): string {
    const deadlines = asks.flatMap((ask) => (ask.deadline === undefined ? [] : [ask.deadline]));
    const state: RequestState = {
      call: callId,
      pending: Object.fromEntries(asks.map((ask) => [ask.key, { method: ask.method, replyTo: ask.replyTo }])),
      ...this.binding(request, principal),
      expires: Math.min(Date.now() + this.env.REQUEST_STATE_TTL_MS, ...deadlines),
      nonce: randomUUID(),
    };
    const inputRequests = Object.fromEntries(asks.map((ask) => [ask.key, { method: ask.method, params: ask.params }]));
    return JSON.stringify({
      jsonrpc: '2.0',
      id: request.id,
      result: { resultType: 'input_required', inputRequests, requestState: this.seal.seal(state) },
    });
  }

  /** Tells the replica serving the client's retry what the call did next (nobody listening: it is dropped). */
  publish(callId: string, sequel: CallSequel): void {
    try {
      this.nats.publishJson(this.subjects.inputRequired(callId), sequel);
    } catch (error) {
      this.log.debug({ err: error }, 'call sequel not published');
    }
  }

  /**
   * Serves a retry that carries `requestState`: checks the state and the answers, hands the answers to the
   * waiting handler, and answers the client with what the call does next (another input-required result,
   * its result or its error). A state that is not valid for this request is refused with -32602.
   */
  async resume({ res, request, principal, fields }: Continuation): Promise<void> {
    const token = request.params['requestState'];
    const answers = request.params['inputResponses'] ?? {};
    if (typeof token !== 'string') throw this.invalid(request, 'requestState must be a string');
    if (!isObject(answers)) throw this.invalid(request, 'inputResponses must be an object');
    let state: RequestState;
    try {
      state = this.seal.open(token, this.binding(request, principal));
    } catch (error) {
      if (error instanceof InvalidRequestStateError) throw this.invalidState(request, error);
      throw error;
    }
    for (const [key, { method }] of Object.entries(state.pending)) {
      if (answers[key] !== undefined && !validAnswer(method, answers[key]))
        throw this.invalid(request, `inputResponses.${key} is not a valid ${method} result`);
    }
    await this.useOnce(request, state);

    // Listening before the handler gets its answers: what it does next cannot be missed.
    const sequel = this.nextOf(state.call, state.expires - Date.now());
    for (const [key, { method, replyTo }] of Object.entries(state.pending)) {
      const answer = answers[key];
      const reply: CallReply =
        answer === undefined
          ? {
              ok: false,
              error: new UnavailableError(`The client did not answer ${method}`, { retryable: false }).toWire(),
            }
          : { ok: true, result: answer };
      this.nats.publish(replyTo, encodeJson(reply));
    }
    const onClose = () => sequel.cancel();
    res.once('close', onClose);
    const next = await sequel.promise.finally(() => res.off('close', onClose));
    if (res.destroyed || res.writableEnded) return;
    if (!next) {
      res.writeHead(200, { 'Content-Type': 'application/json' }).end(
        JSON.stringify(
          rpcErrorResponse(request.id, {
            code: RPC.InternalError,
            message: 'The call did not go on before its deadline',
          }),
        ),
      );
      return;
    }
    switch (next.type) {
      case 'input':
        res
          .writeHead(200, { 'Content-Type': 'application/json' })
          .end(this.answerJson(request, principal, state.call, next.asks));
        return;
      case 'result':
        res
          .writeHead(200, { 'Content-Type': 'application/json' })
          .end(successJsonWith(request.id, next.result, fields));
        return;
      case 'error':
        res
          .writeHead(next.status, { 'Content-Type': 'application/json' })
          .end(JSON.stringify(rpcErrorResponse(request.id, next.error)));
        return;
    }
  }

  private binding(request: StatelessRequest, principal: Principal | undefined) {
    const name = nameOf(request.method, request.params);
    return {
      principal: principal ? principalKey(principal) : '',
      method: request.method,
      name: typeof name === 'string' ? name : '',
    };
  }

  /** Marks the state used, fleet-wide; a second use is refused. */
  private async useOnce(request: StatelessRequest, state: RequestState): Promise<void> {
    if (!this.used) throw new StatelessRejection(503, RPC.InternalError, 'The gateway is starting', request.id);
    try {
      await this.used.create(state.nonce, encodeJson(state.expires));
    } catch (error) {
      if (error instanceof RevisionConflictError)
        throw this.invalidState(request, new InvalidRequestStateError('replayed'));
      throw error;
    }
  }

  /** The first sequel the call publishes within `timeoutMs` (undefined past it, or once cancelled). */
  private nextOf(callId: string, timeoutMs: number): { promise: Promise<CallSequel | undefined>; cancel(): void } {
    let resolve: (sequel: CallSequel | undefined) => void = () => undefined;
    const promise = new Promise<CallSequel | undefined>((done) => (resolve = done));
    const subscription: Subscription = this.nats.subscribe(this.subjects.inputRequired(callId), (msg) => {
      const sequel = CallSequelSchema.safeParse(tryDecodeJson(msg.data));
      if (sequel.success) settle(sequel.data);
    });
    const timer = setTimeout(() => settle(undefined), Math.max(0, timeoutMs));
    timer.unref();
    let settled = false;
    function settle(sequel: CallSequel | undefined): void {
      if (settled) return;
      settled = true;
      subscription.unsubscribe();
      clearTimeout(timer);
      resolve(sequel);
    }
    return { promise, cancel: () => settle(undefined) };
  }

  private invalid(request: StatelessRequest, message: string): StatelessRejection {
    return new StatelessRejection(400, RPC.InvalidParams, `Invalid params: ${message}`, request.id);
  }

  /** The spec's answer to a state that fails its checks: invalid params, without saying which check failed. */
  private invalidState(request: StatelessRequest, error: InvalidRequestStateError): StatelessRejection {
    this.log.debug({ reason: error.reason }, 'requestState refused');
    return this.invalid(request, 'requestState is not valid for this request');
  }
}
