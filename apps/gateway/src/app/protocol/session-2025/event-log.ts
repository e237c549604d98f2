import { Inject, Injectable, type OnApplicationBootstrap } from '@nestjs/common';
import type { ServerResponse } from 'node:http';
import { setTimeout as delay } from 'node:timers/promises';
import type { JSONRPCMessage } from '@modelcontextprotocol/sdk/types.js';
import { fabricSubjects } from '@fabric/contracts';
import { NatsClient, encodeJson, tryDecodeJson, type RetainedStream } from '@fabric/platform-nats';
import { ReadinessRegistry } from '@fabric/platform-observability';
import { GATEWAY_ENV, type GatewayEnv } from '../../gateway.config';
import { SseWriter, sseEvent, startSse } from '../../http/sse';

/** The stream id of a session's GET stream; POST streams get random ones. */
export const GET_STREAM = 'get';

const EVENT_ID = /^([a-z0-9]{1,16})_(\d{1,15})$/;

/** Which stream an event id belongs to, and its sequence; undefined when it is not one of ours. */
export function parseEventId(id: string): { stream: string; seq: number } | undefined {
  const match = EVENT_ID.exec(id);
  return match ? { stream: match[1], seq: Number(match[2]) } : undefined;
}

/**
 * The SSE events the gateway sends, kept in JetStream for `SSE_RETENTION_MS`: every event gets an id
 * (`<stream>_<sequence>`), and a client that lost its connection resumes with `Last-Event-ID` on any
 * replica. Only streams pay for it; plain JSON answers (the hot path) store nothing.
 */
@Injectable()
export class EventLog implements OnApplicationBootstrap {
  private readonly subjects;
  private stream?: RetainedStream;

  constructor(
    @Inject(NatsClient) private readonly nats: NatsClient,
    @Inject(GATEWAY_ENV) private readonly env: GatewayEnv,
    @Inject(ReadinessRegistry) readiness: ReadinessRegistry,
  ) {
    this.subjects = fabricSubjects(env.FABRIC_NAMESPACE);
    readiness.register('event log', () => {
      if (!this.stream) throw new Error('SSE event stream not open');
    });
  }

  async onApplicationBootstrap(): Promise<void> {
    this.stream = await this.nats.retainedStream(
      `${this.env.FABRIC_NAMESPACE}_sse`,
      [this.subjects.sseEventsAll],
      this.env.SSE_RETENTION_MS,
    );
  }

  /** A writer for a new stream of `sessionId` on `res` (whose SSE headers it writes). */
  open(
    res: ServerResponse,
    sessionId: string,
    stream: string,
    headers: Record<string, string> = {},
  ): SseWriter<JSONRPCMessage> {
    startSse(res, headers);
    return new SseWriter<JSONRPCMessage>(res, (message) => this.append(sessionId, stream, message));
  }

  /**
   * Writes on `res` the events of the stream that follow `lastEventId`, as they were sent. A POST stream is
   * followed until its end (it may still be running on another replica); the GET stream only up to now.
   * False when the id names no stream of this gateway.
   */
  async resume(res: ServerResponse, sessionId: string, lastEventId: string, follow: boolean): Promise<boolean> {
    const position = parseEventId(lastEventId);
    if (!position || !this.stream) return false;
    startSse(res);
    const subject = this.subjects.sseEvents(sessionId, position.stream);
    let seq = position.seq + 1;
    let idleSince = Date.now();
    while (!res.destroyed) {
      const stored = await this.stream.next(subject, seq);
      if (!stored) {
        if (!follow || Date.now() - idleSince > this.env.SSE_RETENTION_MS) return true;
        // Still running elsewhere: its next event is not stored yet.
        await delay(100);
        continue;
      }
      seq = stored.seq + 1;
      idleSince = Date.now();
      const message = tryDecodeJson(stored.data) as JSONRPCMessage | { end: true };
      if ('end' in message) {
        res.end();
        return true;
      }
      res.write(sseEvent(message, `${position.stream}_${stored.seq}`));
    }
    return true;
  }

  private async append(sessionId: string, stream: string, message: JSONRPCMessage | { end: true }): Promise<string> {
    if (!this.stream) throw new Error('SSE event stream not open');
    const seq = await this.stream.append(this.subjects.sseEvents(sessionId, stream), encodeJson(message));
    return `${stream}_${seq}`;
  }
}
