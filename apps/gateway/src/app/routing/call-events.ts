import { Inject, Injectable, Logger, type OnApplicationBootstrap, type OnApplicationShutdown } from '@nestjs/common';
import { randomBytes } from 'node:crypto';
import {
  CallEventSchema,
  ClientRequestSchema,
  FabricError,
  InternalError,
  UnavailableError,
  fabricSubjects,
  type CallEvent,
  type CallReply,
  type ClientRequest,
} from '@fabric/contracts';
import { NatsClient, encodeJson, tryDecodeJson, type Msg, type Subscription } from '@fabric/platform-nats';
import { GATEWAY_ENV, type GatewayEnv } from '../gateway.config';

/** Where a request of a running call to its client came from. */
export interface AskOrigin {
  callId: string;
  /** The NATS subject the handler waits on for its `CallReply`: any replica may publish the answer there. */
  replyTo: string;
}

/**
 * What a listener's `request` rejects with when the answer will reach the handler another way (published to
 * `AskOrigin.replyTo` by the replica serving the client's retry): the bus must not reply itself.
 */
export class AnsweredElsewhereError extends Error {
  constructor() {
    super('The client answers this request in a later HTTP request');
    this.name = 'AnsweredElsewhereError';
  }
}

/** Where the events and client requests of one running call go (the MCP layer relays them to the client). */
export interface CallListener {
  /** A progress or log event, delivered in the order the service sent them. */
  event(event: CallEvent): Promise<void> | void;
  /** A request of the call to its client; resolves with the client's result. `signal` fires when the call ends. */
  request(request: ClientRequest, signal: AbortSignal, origin: AskOrigin): Promise<unknown>;
}

/** A call registered with the bus: its subject goes into the CallRequest. */
export interface OpenCall {
  readonly subject: string;
  /** Resolves once every event received so far has been delivered (the result must not overtake them). */
  settled(): Promise<void>;
  close(): void;
}

interface Registration {
  listener: CallListener;
  delivered: Promise<void>;
  /** Aborted when the call ends: its requests to the client are withdrawn. Made on the first such request. */
  ended?: AbortController;
}

const DELIVERED = Promise.resolve();

/**
 * The listener of one call across its attempts. MCP requires a request's progress to increase, and an
 * attempt retried on another replica reports its progress from the start again: a report not above the
 * highest one already passed on is dropped.
 */
export function increasingProgress(listener: CallListener): CallListener {
  let highest = -Infinity;
  return {
    event: (event) => {
      if (event.type === 'progress') {
        if (!(event.progress > highest)) return;
        highest = event.progress;
      }
      return listener.event(event);
    },
    request: (request, signal, origin) => listener.request(request, signal, origin),
  };
}

/**
 * The gateway end of the calls' back channel: one wildcard subscription per replica hears what every call
 * it sent publishes on `CallRequest.events` (progress, logs) and the requests it makes to its client
 * (sampling, elicitation). No subscription per call, so the hot path pays nothing for it.
 */
@Injectable()
export class CallEventBus implements OnApplicationBootstrap, OnApplicationShutdown {
  private readonly log = new Logger('CallEventBus');
  /** This replica, as other replicas and services address it. */
  readonly replica = randomBytes(6).toString('hex');
  private readonly subjects;
  private readonly calls = new Map<string, Registration>();
  private subscription?: Subscription;

  constructor(
    @Inject(NatsClient) private readonly nats: NatsClient,
    @Inject(GATEWAY_ENV) env: GatewayEnv,
  ) {
    this.subjects = fabricSubjects(env.FABRIC_NAMESPACE);
  }

  onApplicationBootstrap(): void {
    this.subscription = this.nats.subscribe(this.subjects.callEventsWildcard(this.replica), (msg) =>
      this.onMessage(msg),
    );
  }

  /** After the HTTP server has drained: no call is left to hear from. */
  onApplicationShutdown(): void {
    this.subscription?.unsubscribe();
  }

  open(callId: string, listener: CallListener): OpenCall {
    const registration: Registration = { listener, delivered: DELIVERED };
    this.calls.set(callId, registration);
    return {
      subject: this.subjects.callEvents(this.replica, callId),
      settled: () => registration.delivered,
      close: () => {
        if (this.calls.get(callId) === registration) this.calls.delete(callId);
        registration.ended?.abort(new UnavailableError('The call is over', { retryable: false }));
      },
    };
  }

  private onMessage(msg: Msg): void {
    const callId = msg.subject.slice(msg.subject.lastIndexOf('.') + 1);
    const call = this.calls.get(callId);
    const data = tryDecodeJson(msg.data);
    if (msg.reply) {
      const request = ClientRequestSchema.safeParse(data);
      if (!call || !request.success) {
        const error = call
          ? new FabricError('INVALID_ARGUMENT', 'Malformed client request', { retryable: false })
          : new UnavailableError('The call is over: its client cannot be asked any more', { retryable: false });
        return this.reply(msg, { ok: false, error: error.toWire() });
      }
      call.ended ??= new AbortController();
      const ended = call.ended.signal;
      const origin: AskOrigin = { callId, replyTo: msg.reply };
      // After the events received before it: a sampling request must not reach the client ahead of an earlier log.
      // It joins no chain itself: later events must not wait for the client's answer.
      call.delivered
        .then(() => call.listener.request(request.data, ended, origin))
        .then(
          (result) => this.reply(msg, { ok: true, result }),
          (error: unknown) => {
            if (error instanceof AnsweredElsewhereError) return;
            const failure = error instanceof FabricError ? error : new InternalError('The client request failed');
            if (!(error instanceof FabricError)) this.log.warn({ err: error }, 'client request failed');
            this.reply(msg, { ok: false, error: failure.toWire() });
          },
        );
      return;
    }
    const event = CallEventSchema.safeParse(data);
    if (!call || !event.success) return;
    // Chained: a slow write of one event must not let the next one (or the result) overtake it.
    call.delivered = call.delivered
      .then(() => call.listener.event(event.data))
      .catch((error: unknown) => this.log.debug({ err: error }, 'call event not delivered'));
  }

  private reply(msg: Msg, reply: CallReply): void {
    if (!this.nats.connection.isClosed()) this.nats.respond(msg, encodeJson(reply));
  }
}
