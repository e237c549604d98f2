import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import type { RequestOptions } from '@modelcontextprotocol/sdk/shared/protocol.js';
import {
  CreateMessageRequestSchema,
  ElicitRequestSchema,
  ErrorCode,
  LoggingMessageNotificationSchema,
  McpError,
  PromptListChangedNotificationSchema,
  ResourceListChangedNotificationSchema,
  ToolListChangedNotificationSchema,
} from '@modelcontextprotocol/sdk/types.js';
import type { ElicitationRequest, SamplingRequest } from '@fabric/contracts';
import type { CallContext } from '@fabric/service-kit';
import type { UpstreamTarget } from './bridge.config';
import { UpstreamLostError } from './bridge.errors';
import { ProcessTransport } from './process.transport';

export interface ConnectionHooks {
  /** The upstream announced that a list changed. */
  onListChanged(connection: UpstreamConnection): void;
  /** A line of the upstream process's stderr. */
  onStderr(line: string): void;
}

/**
 * One SDK client session with the upstream (a process of its own for stdio): runs calls, and routes what the
 * upstream sends during a call (progress, logs, sampling, elicitation) to that call's context. With one call
 * at a time it is always the one call's; with several, back-channel requests are refused, never guessed.
 */
export class UpstreamConnection {
  readonly client = new Client(
    { name: 'mcp-fabric-bridge', version: '1.0.0' },
    { capabilities: { sampling: {}, elicitation: {} } },
  );
  private readonly active = new Set<CallContext>();
  /** Calls the pool has given this connection and not yet taken back (at most `BRIDGE_CALLS_PER_PROCESS`). */
  reserved = 0;
  private transport?: ProcessTransport | StreamableHTTPClientTransport;
  private lostReason?: string;
  /** A working directory made for this process, removed with it. */
  private tempDir?: string;
  private markLost!: (why: string) => void;
  /** Resolves with why, once the session is over (process exited, hung, or closed). */
  readonly lost: Promise<string>;

  constructor(
    readonly slot: number,
    private readonly target: UpstreamTarget,
    private readonly hooks: ConnectionHooks,
  ) {
    this.lost = new Promise((resolve) => {
      this.markLost = (why) => {
        if (this.lostReason) return;
        this.lostReason = why;
        resolve(why);
      };
    });
    this.client.onclose = () => this.markLost('the connection closed');
    this.client.setRequestHandler(CreateMessageRequestSchema, (request) =>
      this.soleCall('sampling/createMessage').sample(request.params as unknown as SamplingRequest),
    );
    this.client.setRequestHandler(ElicitRequestSchema, (request) =>
      this.soleCall('elicitation/create').elicit(request.params as unknown as ElicitationRequest),
    );
    this.client.setNotificationHandler(LoggingMessageNotificationSchema, ({ params }) => {
      const [call] = this.active;
      if (this.active.size === 1) call.log(params.level, params.data, params.logger);
    });
    for (const schema of [
      ToolListChangedNotificationSchema,
      ResourceListChangedNotificationSchema,
      PromptListChangedNotificationSchema,
    ])
      this.client.setNotificationHandler(schema, () => this.hooks.onListChanged(this));
  }

  /** Pid of the upstream process (stdio). */
  get pid(): number | undefined {
    return this.transport instanceof ProcessTransport ? this.transport.pid : undefined;
  }

  get isLost(): boolean {
    return this.lostReason !== undefined;
  }

  /** Starts the process (or session) and initialises MCP, within `timeoutMs`. */
  async open(timeoutMs: number): Promise<void> {
    if (this.target.kind === 'stdio') {
      if (!this.target.cwd) this.tempDir = mkdtempSync(path.join(tmpdir(), 'mcp-bridge-'));
      const cwd = this.target.cwd ?? (this.tempDir as string);
      this.transport = new ProcessTransport({ ...this.target, cwd, onStderr: (line) => this.hooks.onStderr(line) });
    } else {
      this.transport = new StreamableHTTPClientTransport(this.target.url, {
        requestInit: { headers: this.target.headers },
      });
    }
    await this.client.connect(this.transport, { timeout: timeoutMs });
  }

  /** Runs one call's request on this session: progress to `ctx`, its deadline and cancellation passed on. */
  async run<T>(ctx: CallContext, request: (options: RequestOptions) => Promise<T>): Promise<T> {
    if (this.lostReason) throw new UpstreamLostError(this.lostReason);
    this.active.add(ctx);
    const options: RequestOptions = {
      signal: ctx.signal,
      timeout: Math.max(1, ctx.deadline - Date.now()),
      onprogress: ({ progress, total, message }) => ctx.progress(progress, total, message),
    };
    try {
      return await Promise.race([
        request(options),
        this.lost.then((why) => Promise.reject(new UpstreamLostError(why))),
      ]);
    } catch (error) {
      // The SDK rejects pending requests with "Connection closed" when the process dies: say what happened.
      if (this.lostReason && !ctx.signal.aborted) throw new UpstreamLostError(this.lostReason);
      throw error;
    } finally {
      this.active.delete(ctx);
    }
  }

  /** Whether the upstream answers a ping within `timeoutMs`. */
  async ping(timeoutMs: number): Promise<boolean> {
    try {
      await this.client.ping({ timeout: timeoutMs });
      return true;
    } catch {
      return false;
    }
  }

  /** Ends the session: a process gets SIGTERM, then SIGKILL after `graceMs`, its whole group with it. */
  async close(why: string, graceMs = 2_000): Promise<void> {
    this.markLost(why);
    if (this.transport instanceof ProcessTransport) {
      await this.transport.close(graceMs);
      this.removeTempDir();
    } else if (this.transport) {
      await this.transport.terminateSession().catch(() => undefined);
    }
    await this.client.close().catch(() => undefined);
  }

  /** Kills a hung process at once (its group with it). */
  kill(why: string): void {
    this.markLost(why);
    if (this.transport instanceof ProcessTransport) this.transport.kill();
    else void this.client.close().catch(() => undefined);
  }

  private removeTempDir(): void {
    if (this.tempDir) rmSync(this.tempDir, { recursive: true, force: true });
    this.tempDir = undefined;
  }

  private soleCall(method: string): CallContext {
    const [call] = this.active;
    if (this.active.size === 1) return call;
    throw new McpError(
      ErrorCode.InvalidRequest,
      this.active.size === 0
        ? `${method} outside of a call: the bridge has no client to ask`
        : `${method} while several calls share this connection: the bridge cannot tell whose it is (BRIDGE_CALLS_PER_PROCESS > 1)`,
    );
  }
}
