import { logLevelAllows, type CallEvent, type ClientRequest, type LogLevel } from '@fabric/contracts';
import type { ClientChannel } from '../../operations/client-channel';
import type { ClientCapabilities } from './stateless-request';

/** Writes a notification on the stream of the request being served (opening it on the first). */
export type Notify = (message: { jsonrpc: '2.0'; method: string; params: Record<string, unknown> }) => Promise<void>;

/** The capability a request to the client needs. */
const CAPABILITY_OF: Record<ClientRequest['method'], string> = {
  'sampling/createMessage': 'sampling',
  'elicitation/create': 'elicitation',
};

/** A request to the client that needs a capability the client did not declare in its `_meta`. */
export class MissingClientCapabilityError extends Error {
  constructor(readonly capability: string) {
    super(`The client did not declare the ${capability} capability this request needs`);
    this.name = 'MissingClientCapabilityError';
  }
}

/** A request to the client while the stateless era cannot carry it (input-required results are not served yet). */
export class InputRequiredUnsupportedError extends Error {
  constructor(readonly method: string) {
    super(`This gateway cannot ask the client (${method}) on the 2026-07-28 revision yet`);
    this.name = 'InputRequiredUnsupportedError';
  }
}

/**
 * The client channel of one request of the 2026-07-28 era: progress (when `_meta.progressToken` asks for
 * it) and logs (only at or above `_meta.../logLevel`, none without it) as notifications on the request's
 * own stream. A request to the client needs its declared capability; the first refusal is kept, and the
 * adapter answers the request with it instead of the tool's result.
 */
export class StatelessChannel implements ClientChannel {
  /** Why the request must be answered with an error rather than its result. */
  refusal?: MissingClientCapabilityError | InputRequiredUnsupportedError;

  constructor(
    readonly logLevel: LogLevel | undefined,
    readonly progressToken: string | number | undefined,
    private readonly capabilities: ClientCapabilities,
    private readonly notifyClient: Notify,
    private readonly stop: (reason: Error) => void,
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

  ask(request: ClientRequest): Promise<unknown> {
    const capability = CAPABILITY_OF[request.method];
    const refusal =
      this.capabilities[capability] === undefined
        ? new MissingClientCapabilityError(capability)
        : new InputRequiredUnsupportedError(request.method);
    this.refusal ??= refusal;
    // The call cannot go on without the answer: stop it, and answer the request with the refusal.
    this.stop(refusal);
    return Promise.reject(refusal);
  }
}
