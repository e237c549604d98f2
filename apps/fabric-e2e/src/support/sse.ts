/** A JSON-RPC message as it comes off the wire. */
export interface RpcMessage {
  jsonrpc: '2.0';
  id?: string | number;
  method?: string;
  params?: Record<string, unknown>;
  result?: Record<string, unknown>;
  error?: { code: number; message: string };
}

/**
 * One HTTP exchange with the MCP endpoint read message by message, whether the answer is JSON or an SSE
 * stream: for tests that must see what arrives before a response, or answer a request mid-stream.
 */
export class McpExchange {
  private readonly queue: RpcMessage[] = [];
  private readonly waiters: ((message: RpcMessage | undefined) => void)[] = [];
  private ended = false;
  private readonly controller = new AbortController();
  /** Id of the last SSE event received (what a client sends back as `Last-Event-ID`). */
  lastEventId?: string;
  /** Ids of the SSE events received, in order (undefined for events without one). */
  readonly eventIds: (string | undefined)[] = [];

  private constructor(readonly response: Response) {}

  static async open(
    method: 'POST' | 'GET',
    url: string,
    headers: Record<string, string>,
    body?: unknown,
  ): Promise<McpExchange> {
    const controller = new AbortController();
    const response = await fetch(url, {
      method,
      signal: controller.signal,
      headers: {
        accept: method === 'GET' ? 'text/event-stream' : 'application/json, text/event-stream',
        ...(body !== undefined ? { 'content-type': 'application/json' } : {}),
        ...headers,
      },
      body: body !== undefined ? JSON.stringify(body) : undefined,
    });
    const exchange = new McpExchange(response);
    exchange.controller.signal.addEventListener('abort', () => controller.abort());
    void exchange.pump();
    return exchange;
  }

  get status(): number {
    return this.response.status;
  }

  get contentType(): string {
    return this.response.headers.get('content-type') ?? '';
  }

  /** The next message, or undefined once the exchange has ended. Fails after `timeoutMs`. */
  next(timeoutMs = 10_000): Promise<RpcMessage | undefined> {
    const queued = this.queue.shift();
    if (queued) return Promise.resolve(queued);
    if (this.ended) return Promise.resolve(undefined);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no message within ${timeoutMs} ms`)), timeoutMs);
      this.waiters.push((message) => {
        clearTimeout(timer);
        resolve(message);
      });
    });
  }

  /** Every message until the exchange ends. */
  async rest(timeoutMs = 10_000): Promise<RpcMessage[]> {
    const messages: RpcMessage[] = [];
    for (let message = await this.next(timeoutMs); message; message = await this.next(timeoutMs)) {
      messages.push(message);
    }
    return messages;
  }

  close(): void {
    this.controller.abort();
  }

  private push(message: RpcMessage | undefined): void {
    const waiter = this.waiters.shift();
    if (waiter) waiter(message);
    else if (message) this.queue.push(message);
  }

  private finish(): void {
    this.ended = true;
    for (const waiter of this.waiters.splice(0)) waiter(undefined);
  }

  private async pump(): Promise<void> {
    try {
      if (!this.contentType.includes('text/event-stream')) {
        const text = await this.response.text();
        if (text) for (const message of [JSON.parse(text)].flat()) this.push(message as RpcMessage);
        return;
      }
      const decoder = new TextDecoder();
      let buffer = '';
      for await (const chunk of this.response.body as unknown as AsyncIterable<Uint8Array>) {
        buffer += decoder.decode(chunk, { stream: true });
        let boundary: number;
        while ((boundary = buffer.indexOf('\n\n')) >= 0) {
          const event = buffer.slice(0, boundary);
          buffer = buffer.slice(boundary + 2);
          const lines = event.split('\n');
          const field = (name: string) =>
            lines.filter((line) => line.startsWith(`${name}:`)).map((line) => line.slice(name.length + 1).trimStart());
          const data = field('data').join('\n');
          const id = field('id')[0];
          if (!data) continue;
          if (id) this.lastEventId = id;
          this.eventIds.push(id);
          this.push(JSON.parse(data) as RpcMessage);
        }
      }
    } catch {
      // Aborted by close(), or the server went away: the exchange is over either way.
    } finally {
      this.finish();
    }
  }
}
