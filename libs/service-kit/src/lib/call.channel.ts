import {
  CallReplySchema,
  DeadlineExceededError,
  FabricError,
  InternalError,
  UnavailableError,
  logLevelAllows,
  type CallEvent,
  type CallRequest,
  type ClientRequest,
  type ElicitationRequest,
  type ElicitationResult,
  type LogLevel,
  type RootsResult,
  type SamplingRequest,
  type SamplingResult,
} from '@fabric/contracts';
import {
  NoRespondersError,
  RequestTimeoutError,
  encodeJson,
  tryDecodeJson,
  type Msg,
  type NatsClient,
} from '@fabric/platform-nats';
import type { AskOptions, CallContext } from './call-context';

/** The NATS verbs a channel uses. */
export type ChannelNats = Pick<NatsClient, 'publishJson' | 'request'>;

/** What a channel needs to know of its call. */
export type ChannelRequest = Pick<CallRequest, 'events' | 'progressToken' | 'logLevel' | 'deadline'>;

/**
 * One call's line to its client, through the gateway replica holding the client's request (`request.events`):
 * events are published at once, so on the one connection they stay in call order and ahead of the reply;
 * client requests use request/reply there. The methods are arrow-function properties so that they can be
 * handed around unbound.
 */
export class CallChannel implements Pick<CallContext, 'progress' | 'log' | 'sample' | 'elicit' | 'roots'> {
  private closed = false;

  constructor(
    private readonly request: ChannelRequest,
    private readonly nats: ChannelNats,
    private readonly signal: AbortSignal,
  ) {}

  readonly progress = (progress: number, total?: number, message?: string): void => {
    if (this.request.progressToken === undefined) return;
    this.publish({ type: 'progress', progress, total, message });
  };

  readonly log = (level: LogLevel, data: unknown, logger?: string): void => {
    if (!logLevelAllows(this.request.logLevel, level)) return;
    this.publish({ type: 'log', level, logger, data });
  };

  // The gateway's SDK has validated the client's answer against the method's result schema.
  readonly sample = (request: SamplingRequest, options?: AskOptions): Promise<SamplingResult> =>
    this.ask('sampling/createMessage', request, options) as Promise<SamplingResult>;

  readonly elicit = (request: ElicitationRequest, options?: AskOptions): Promise<ElicitationResult> =>
    this.ask('elicitation/create', request, options) as Promise<ElicitationResult>;

  readonly roots = (options?: AskOptions): Promise<RootsResult> =>
    this.ask('roots/list', {}, options) as Promise<RootsResult>;

  /** Ends the channel when the call's reply goes out: MCP allows no notification or request after the response. */
  close(): void {
    this.closed = true;
  }

  private publish(event: CallEvent): void {
    if (!this.request.events || this.closed) return;
    try {
      this.nats.publishJson(this.request.events, event);
    } catch {
      // A closed connection (shutdown) loses the event; that must not fail the call.
    }
  }

  private async ask(method: ClientRequest['method'], params: object, options?: AskOptions): Promise<unknown> {
    const events = this.request.events;
    if (!events) throw new UnavailableError(`The call has no client to ask (${method})`, { retryable: false });
    if (this.closed) throw new UnavailableError(`The call has already been answered (${method})`, { retryable: false });
    this.signal.throwIfAborted();
    const timeoutMs = this.request.deadline - Date.now();
    if (timeoutMs <= 0) throw new DeadlineExceededError();

    const message: ClientRequest = {
      type: 'request',
      method,
      params: params as Record<string, unknown>,
      deadline: this.request.deadline,
      ...(options?.key === undefined ? {} : { key: options.key }),
    };
    let onAbort = (): void => undefined;
    // The NATS request itself cannot be withdrawn; the race lets the handler stop now instead of at its timeout.
    const aborted = new Promise<never>((_, reject) => {
      onAbort = () => reject(this.signal.reason);
      this.signal.addEventListener('abort', onAbort, { once: true });
    });
    let msg: Msg;
    try {
      msg = await Promise.race([this.nats.request(events, encodeJson(message), { timeoutMs }), aborted]);
    } catch (error) {
      if (error instanceof NoRespondersError) {
        throw new UnavailableError(`The gateway holding the client's request is gone (${method})`, { cause: error });
      }
      if (error instanceof RequestTimeoutError) {
        throw new DeadlineExceededError(`The client did not answer ${method} before the call's deadline`, {
          cause: error,
        });
      }
      throw error;
    } finally {
      this.signal.removeEventListener('abort', onAbort);
    }
    const reply = CallReplySchema.safeParse(tryDecodeJson(msg.data));
    if (!reply.success)
      throw new InternalError(`The gateway sent a malformed reply to ${method}`, { cause: reply.error });
    if (!reply.data.ok) throw FabricError.fromWire(reply.data.error);
    return reply.data.result;
  }
}

/**
 * The context of a call run on this replica (a plain call, or a task's run `attempt`). Plain own properties:
 * resource handlers get `{ ...ctx, uri }`, which must keep the methods.
 */
export function callContext(
  request: CallRequest,
  signal: AbortSignal,
  channel: CallChannel,
  cache: CallContext['cache'],
  task?: { attempt: number },
): CallContext {
  return {
    callId: request.id,
    signal,
    deadline: request.deadline,
    principal: request.principal,
    sessionId: request.sessionId,
    attempt: task?.attempt ?? 1,
    ...(task ? { taskId: request.id } : {}),
    progress: channel.progress,
    log: channel.log,
    sample: channel.sample,
    elicit: channel.elicit,
    roots: channel.roots,
    cache,
  };
}

const NO_NATS: ChannelNats = {
  publishJson: () => undefined,
  request: () => Promise.reject(new Error('a detached context has no NATS')),
};

/** No cache: every read loads, invalidations drop nothing. */
const NO_CACHE: CallContext['cache'] = {
  getOrSet: (_key, load) => load(),
  invalidate: () => Promise.resolve(),
};

/**
 * A context with no client, for running a handler outside a fabric call (unit tests): progress and log go
 * nowhere, sample and elicit fail UNAVAILABLE, and the cache (unless given) caches nothing.
 */
export function detachedCallContext(
  fields: Partial<
    Pick<CallContext, 'callId' | 'signal' | 'deadline' | 'principal' | 'sessionId' | 'cache' | 'attempt' | 'taskId'>
  > = {},
): CallContext {
  const signal = fields.signal ?? new AbortController().signal;
  const deadline = fields.deadline ?? Date.now() + 60_000;
  const { progress, log, sample, elicit, roots } = new CallChannel({ deadline }, NO_NATS, signal);
  return {
    callId: 'detached',
    cache: NO_CACHE,
    attempt: 1,
    ...fields,
    signal,
    deadline,
    progress,
    log,
    sample,
    elicit,
    roots,
  };
}
