import type { ServerResponse } from 'node:http';

export const SSE_HEADERS = {
  'Content-Type': 'text/event-stream',
  'Cache-Control': 'no-cache, no-transform',
  Connection: 'keep-alive',
  'X-Accel-Buffering': 'no',
};

const KEEPALIVE_MS = 15_000;

/** One SSE event carrying a JSON message. */
export function sseEvent(message: unknown, id?: string): string {
  return `${id ? `id: ${id}\n` : ''}event: message\ndata: ${JSON.stringify(message)}\n\n`;
}

/** Writes the SSE response headers, unless already written. */
export function startSse(res: ServerResponse, headers: Record<string, string> = {}): void {
  if (!res.headersSent && !res.destroyed) {
    res.writeHead(200, { ...headers, ...SSE_HEADERS });
    res.flushHeaders();
  }
}

/**
 * Where a stream's events are kept before they are written, so that a client can resume after the id it
 * last saw; undefined when an event could not be stored (it is still written, without an id).
 */
export type EventStore<M> = (message: M | { end: true }) => Promise<string | undefined>;

/**
 * Writes one SSE stream, each event stored first so that it carries a resumable id. Writes are chained: ids
 * follow the order of the stream. When the client has gone the events are still stored, for its resume.
 */
export class SseWriter<M = unknown> {
  private chain: Promise<void> = Promise.resolve();
  private readonly keepalive: NodeJS.Timeout;

  constructor(
    private readonly res: ServerResponse,
    private readonly store: EventStore<M>,
  ) {
    // A stream may stay quiet for long (a user answering an elicitation): proxies must not close it as idle.
    this.keepalive = setInterval(() => {
      if (!res.writableEnded && !res.destroyed) res.write(': keepalive\n\n');
    }, KEEPALIVE_MS);
    this.keepalive.unref();
    res.once('close', () => this.stop());
  }

  /** Stops the keepalive (the response ended or was handed back). */
  stop(): void {
    clearInterval(this.keepalive);
  }

  write(message: M): Promise<void> {
    this.chain = this.chain.then(async () => {
      // Unstored (NATS trouble), the event still goes out, without an id to resume from.
      const id = await this.store(message).catch(() => undefined);
      if (!this.res.writableEnded && !this.res.destroyed) this.res.write(sseEvent(message, id));
    });
    return this.chain;
  }

  /** Marks the stream's end in the store and ends the response. */
  end(): Promise<void> {
    this.chain = this.chain.then(async () => {
      await this.store({ end: true }).catch(() => undefined);
      this.stop();
      if (!this.res.writableEnded) this.res.end();
    });
    return this.chain;
  }
}
