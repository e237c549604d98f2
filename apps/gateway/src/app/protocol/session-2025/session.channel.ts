import { logLevelAllows, type CallEvent, type ClientRequest, type LogLevel } from '@fabric/contracts';
import type { ClientChannel } from '../../operations/client-channel';
import type { ClientRequests } from './client-requests';
import type { Emit, SignalSource } from './direct.exchange';
import type { SessionStore } from './session.store';

/**
 * The client channel of a request in a 2025-11-25 session: progress and log messages as notifications on
 * the request's SSE stream, requests to the client (sampling, elicitation) pushed on it too.
 */
export class SessionChannel implements ClientChannel {
  constructor(
    private readonly sessionId: string,
    readonly logLevel: LogLevel | undefined,
    readonly progressToken: string | number | undefined,
    private readonly emit: Emit,
    private readonly abort: SignalSource,
    private readonly store: SessionStore,
    private readonly clientRequests: ClientRequests,
  ) {}

  async notify(event: CallEvent): Promise<void> {
    if (event.type === 'progress') {
      const progressToken = this.progressToken;
      if (progressToken === undefined) return;
      const { type: _type, ...progress } = event;
      await this.emit({ jsonrpc: '2.0', method: 'notifications/progress', params: { progressToken, ...progress } });
      return;
    }
    // The level may have changed since the call started (logging/setLevel on any replica).
    const current = (await this.store.get(this.sessionId))?.logLevel;
    if (!logLevelAllows(current, event.level)) return;
    const { type: _type, ...message } = event;
    await this.emit({ jsonrpc: '2.0', method: 'notifications/message', params: message });
  }

  ask(request: ClientRequest, callEnded: AbortSignal): Promise<unknown> {
    const signal = AbortSignal.any([this.abort.signal, callEnded]);
    return this.clientRequests.send(this.sessionId, request, this.emit, signal);
  }
}
