import { logLevelAllows, type CallEvent, type ClientRequest, type LogLevel } from '@fabric/contracts';
import type { ClientChannel } from '../../operations/client-channel';
import { AnsweredElsewhereError, type AskOrigin } from '../../routing/call-events';
import type { PendingAsk } from './input-required';
import type { ClientCapabilities } from './stateless-request';

/** Receives the requests to the client a call made together (see `GATHER_MS`). */
export type InputSink = (callId: string, asks: PendingAsk[]) => void;

/**
 * How long the first request to the client waits for others of the same call before they are sent together:
 * a handler asking several things at once (`Promise.all`) gets one input-required result with all of them.
 */
export const GATHER_MS = 5;

/** The `inputRequests` key of a request the handler did not name. */
const KEY_PREFIX: Record<ClientRequest['method'], string> = {
  'sampling/createMessage': 'sampling',
  'elicitation/create': 'elicitation',
  'roots/list': 'roots',
};

/** Writes a notification on the stream of the request being served (opening it on the first). */
export type Notify = (message: { jsonrpc: '2.0'; method: string; params: Record<string, unknown> }) => Promise<void>;

/** The capability a request to the client needs. */
const CAPABILITY_OF: Record<ClientRequest['method'], string> = {
  'sampling/createMessage': 'sampling',
  'elicitation/create': 'elicitation',
  'roots/list': 'roots',
};

/** A request to the client that needs a capability the client did not declare in its `_meta`. */
export class MissingClientCapabilityError extends Error {
  constructor(readonly capability: string) {
    super(`The client did not declare the ${capability} capability this request needs`);
    this.name = 'MissingClientCapabilityError';
  }
}

/** A request to the client that cannot become an input-required result (it comes from no service call). */
export class InputRequiredUnsupportedError extends Error {
  constructor(readonly method: string) {
    super(`This request cannot ask the client (${method}) on the 2026-07-28 revision`);
    this.name = 'InputRequiredUnsupportedError';
  }
}

/**
 * The client channel of one request of the 2026-07-28 era: progress (when `_meta.progressToken` asks for
 * it) and logs (only at or above `_meta.../logLevel`, none without it) as notifications on the request's
 * own stream. A request to the client needs its declared capability (the first refusal is kept, and the
 * adapter answers the request with it instead of the tool's result); one it may make goes to `input` —
 * gathered with the others the call makes at once — to become an input-required result, and the handler
 * gets its answer from the replica serving the client's retry.
 */
export class StatelessChannel implements ClientChannel {
  /** Why the request must be answered with an error rather than its result. */
  refusal?: MissingClientCapabilityError | InputRequiredUnsupportedError;
  private gathered: PendingAsk[] = [];
  private asked = 0;

  constructor(
    readonly logLevel: LogLevel | undefined,
    readonly progressToken: string | number | undefined,
    private readonly capabilities: ClientCapabilities,
    private readonly notifyClient: Notify,
    private readonly stop: (reason: Error) => void,
    private readonly input?: InputSink,
  ) {}

  async notify(event: CallEvent): Promise<void> {
    if (event.type === 'progress') {
      const progressToken = this.progressToken;
      if (progressToken === undefined) return;
      const { type: _type, ...progress } = event;
      await this.notifyClient({
        jsonrpc: '2.0',
        method: 'notifications/progress',
        params: { progressToken, ...progress },
      });
      return;
    }
    // No level in the request's _meta: the client wants no log messages at all.
    if (this.logLevel === undefined || !logLevelAllows(this.logLevel, event.level)) return;
    const { type: _type, ...message } = event;
    await this.notifyClient({ jsonrpc: '2.0', method: 'notifications/message', params: message });
  }

  ask(request: ClientRequest, _signal: AbortSignal, origin?: AskOrigin): Promise<unknown> {
    const capability = CAPABILITY_OF[request.method];
    const refusal =
      this.capabilities[capability] === undefined
        ? new MissingClientCapabilityError(capability)
        : !origin || !this.input
          ? new InputRequiredUnsupportedError(request.method)
          : undefined;
    if (refusal) {
      this.refusal ??= refusal;
      // The call cannot go on without the answer: stop it, and answer the request with the refusal.
      this.stop(refusal);
      return Promise.reject(refusal);
    }
    this.gather(request, origin as AskOrigin);
    // The answer goes from the replica serving the retry straight to the handler.
    return Promise.reject(new AnsweredElsewhereError());
  }

  private gather(request: ClientRequest, origin: AskOrigin): void {
    this.asked++;
    let key = request.key ?? `${KEY_PREFIX[request.method]}-${this.asked}`;
    if (this.gathered.some((ask) => ask.key === key)) key = `${key}-${this.asked}`;
    this.gathered.push({
      key,
      method: request.method,
      params: request.params,
      replyTo: origin.replyTo,
      ...(request.deadline === undefined ? {} : { deadline: request.deadline }),
    });
    if (this.gathered.length > 1) return;
    setTimeout(() => {
      const asks = this.gathered;
      this.gathered = [];
      this.input?.(origin.callId, asks);
    }, GATHER_MS);
  }
}
