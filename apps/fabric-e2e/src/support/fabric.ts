import { randomBytes } from 'node:crypto';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { fabricSubjects } from '@fabric/contracts';
import { connect, ErrorCode, type NatsError } from 'nats';
import { AppProcess, eventually } from './processes';
import { RoundRobinProxy } from './round-robin-proxy';

export interface FabricOptions {
  /**
   * NATS server(s) of the test's own (a private server or cluster), comma-separated; default `NATS_URL` of
   * the environment, or the machine's NATS.
   */
  natsUrl?: string;
  /** Environment of every app, on top of the shared one. */
  env?: Record<string, string>;
  /** Environment of every gateway, on top of the shared one. */
  gatewayEnv?: Record<string, string>;
  /** Gateway replicas; with more than one they serve behind a round-robin proxy. */
  gateways?: number;
  /** Services to start before the gateways: app name, replicas (default 1) and extra environment. */
  services?: { app: string; replicas?: number; env?: Record<string, string> }[];
}

/** Gateways and services started as real processes on a private namespace of the machine's NATS (or another). */
export class Fabric {
  readonly namespace = `e2e${randomBytes(4).toString('hex')}`;
  private natsUrl = process.env['NATS_URL'] ?? 'nats://127.0.0.1:4222';
  private env: Record<string, string> = {};
  readonly processes: AppProcess[] = [];
  readonly gateways: AppProcess[] = [];
  /** In front of the gateways when there are several. */
  proxy?: RoundRobinProxy;
  private gatewayEnv: Record<string, string> = {};
  private readonly clients: Client[] = [];
  /** On a NATS of the test's own, which goes with its store: only the shared one needs cleaning. */
  private privateNats = false;

  static async start(options: FabricOptions = {}): Promise<Fabric> {
    const fabric = new Fabric();
    if (options.natsUrl) {
      fabric.natsUrl = options.natsUrl;
      fabric.privateNats = true;
    }
    fabric.env = options.env ?? {};
    // One requestState key for the fleet, as a deployment sets it: any replica continues another's call.
    fabric.gatewayEnv = {
      DISCOVERY_WAIT_MS: '500',
      REQUEST_STATE_KEY: randomBytes(32).toString('base64'),
      ...options.gatewayEnv,
    };
    try {
      await Promise.all(
        (options.services ?? []).flatMap((service) =>
          Array.from({ length: service.replicas ?? 1 }, () => fabric.startService(service.app, service.env)),
        ),
      );
      const gateways = options.gateways ?? 1;
      await Promise.all(Array.from({ length: gateways }, () => fabric.startGateway()));
      if (gateways > 1) fabric.proxy = await RoundRobinProxy.start(fabric.gateways.map((gateway) => gateway.url));
    } catch (error) {
      await fabric.stop();
      throw error;
    }
    return fabric;
  }

  /** The first gateway. */
  get gateway(): AppProcess {
    return this.gateways[0];
  }

  /** Environment every app of this fabric shares. */
  get sharedEnv(): Record<string, string> {
    return {
      FABRIC_NAMESPACE: this.namespace,
      NATS_URL: this.natsUrl,
      HEARTBEAT_MS: '500',
      READINESS_INTERVAL_MS: '500',
      ...this.env,
    };
  }

  async startApp(app: string, env: Record<string, string> = {}): Promise<AppProcess> {
    const started = await AppProcess.start(app, { ...this.sharedEnv, ...env });
    this.processes.push(started);
    return started.ready();
  }

  startService(app: string, env: Record<string, string> = {}): Promise<AppProcess> {
    return this.startApp(app, env);
  }

  /** Starts one more gateway replica and, behind a proxy, puts it in rotation. */
  async startGateway(env: Record<string, string> = {}): Promise<AppProcess> {
    const gateway = await this.startApp('gateway', { ...this.gatewayEnv, ...env });
    this.gateways.push(gateway);
    this.proxy?.setBackends(this.gateways.filter((replica) => replica.running).map((replica) => replica.url));
    return gateway;
  }

  /** Running processes of an app, in start order. */
  replicas(app: string): AppProcess[] {
    return this.processes.filter((process) => process.app === app && process.running);
  }

  /** The MCP endpoint clients use: the proxy when there is one, else the only gateway. */
  get mcpUrl(): string {
    return `${this.proxy?.url ?? this.gateway.url}/mcp`;
  }

  /** An SDK client with an initialized session on the gateway. */
  async connect(name = 'e2e'): Promise<{ client: Client; transport: StreamableHTTPClientTransport }> {
    const client = new Client({ name, version: '1.0.0' }, { capabilities: {} });
    const transport = new StreamableHTTPClientTransport(new URL(this.mcpUrl));
    await client.connect(transport);
    this.clients.push(client);
    return { client, transport };
  }

  /** Waits until the gateway lists a tool with this public name. */
  async waitForTool(client: Client, name: string, present = true): Promise<void> {
    await eventually(
      async () => {
        const names = await listAllTools(client);
        return names.includes(name) === present;
      },
      15_000,
      `tool ${name} to be ${present ? 'listed' : 'gone'}`,
    );
  }

  async stop(): Promise<void> {
    await Promise.all(this.clients.map((client) => client.close().catch(() => undefined)));
    await Promise.all(this.processes.map((process) => process.stop('SIGKILL')));
    await this.proxy?.close();
    if (!this.privateNats) await this.removeStreams();
  }

  /**
   * Waits until the bus itself has no subscriber left for `service`'s calls ("no responders"). A killed
   * replica's socket closes at once, but the NATS server drops its subscriptions only when it reads that close:
   * a request sent in between is routed to the dead connection and only times out.
   */
  async waitUntilOffTheBus(service: string): Promise<void> {
    const connection = await connect({ servers: this.natsUrl.split(','), timeout: 2_000 });
    const subject = fabricSubjects(this.namespace).request(service, 'tools.call');
    try {
      await eventually(
        () =>
          connection.request(subject, '{}', { timeout: 250 }).then(
            () => false,
            (error: NatsError) => error.code === ErrorCode.NoResponders,
          ),
        10_000,
        `no responders for ${service}`,
      );
    } finally {
      await connection.close();
    }
  }

  /** Deletes this fabric's JetStream streams (session bucket, SSE event log): the machine's NATS keeps no trace. */
  private async removeStreams(): Promise<void> {
    const connection = await connect({ servers: this.natsUrl.split(','), timeout: 2_000 });
    try {
      const manager = await connection.jetstreamManager();
      const names: string[] = [];
      for await (const stream of manager.streams.list()) {
        if (stream.config.name.includes(this.namespace)) names.push(stream.config.name);
      }
      await Promise.all(names.map((name) => manager.streams.delete(name)));
    } finally {
      await connection.close();
    }
  }
}

/** Every tool name, following `nextCursor` through all pages. */
export async function listAllTools(client: Client): Promise<string[]> {
  const names: string[] = [];
  let cursor: string | undefined;
  do {
    const page = await client.listTools(cursor ? { cursor } : {});
    names.push(...page.tools.map((tool) => tool.name));
    cursor = page.nextCursor;
  } while (cursor);
  return names;
}

/** The text of a tool result's first content block. */
export function textOf(result: unknown): string {
  const content = (result as { content?: { type: string; text?: string }[] }).content ?? [];
  return content.map((block) => block.text ?? '').join('\n');
}

/** Raw JSON-RPC POST to the MCP endpoint, for what the SDK client would never send. */
export async function postRaw(
  url: string,
  body: string,
  headers: Record<string, string> = {},
  signal?: AbortSignal,
): Promise<{ status: number; json: unknown; headers: Headers }> {
  const response = await fetch(url, {
    method: 'POST',
    signal,
    headers: { 'content-type': 'application/json', accept: 'application/json, text/event-stream', ...headers },
    body,
  });
  const text = await response.text();
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    json = text;
  }
  return { status: response.status, json, headers: response.headers };
}

export const INITIALIZE = JSON.stringify({
  jsonrpc: '2.0',
  id: 1,
  method: 'initialize',
  params: { protocolVersion: '2025-11-25', capabilities: {}, clientInfo: { name: 'raw', version: '1' } },
});
