import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';

/** The `/jsz` monitoring fields tests read. */
export interface JetStreamStatus {
  streams: number;
  meta_cluster?: { name?: string; leader?: string; cluster_size?: number };
}

interface ClusterOptions {
  name: string;
  port: number;
  /** Route ports of every node, this one included (a route to itself is ignored). */
  routes: number[];
}

/** A free TCP port on 127.0.0.1. */
export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

/** Polls `check` every 20 ms until it returns true, or fails after `timeoutMs` (with its last error). */
export async function eventually(
  check: () => boolean | Promise<boolean>,
  timeoutMs: number,
  what: string,
): Promise<void> {
  await eventuallyValue(async () => (await check()) || undefined, timeoutMs, what);
}

/** Polls `probe` every 20 ms until it returns a value (not undefined or false), or fails after `timeoutMs`. */
export async function eventuallyValue<T>(
  probe: () => T | undefined | false | Promise<T | undefined | false>,
  timeoutMs: number,
  what: string,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown;
  for (;;) {
    try {
      const value = await probe();
      if (value !== undefined && value !== false) return value;
    } catch (error) {
      lastError = error;
    }
    if (Date.now() > deadline) {
      throw new Error(
        `timed out after ${timeoutMs} ms waiting for ${what}${lastError ? `: ${String(lastError)}` : ''}`,
      );
    }
    await delay(20);
  }
}

/**
 * A private `nats-server` with JetStream for tests that stop, kill and restart it: its own ports and
 * store directory, killed by pid, the directory removed by `stop()`. The Debian `nats-server` (2.9) is on
 * the machines; `NATS_SERVER_BIN` names another binary.
 */
export class NatsServerProcess {
  private child?: ChildProcess;
  private exited?: Promise<void>;
  private readonly output: string[] = [];

  private constructor(
    readonly name: string,
    readonly port: number,
    readonly monitorPort: number,
    readonly storeDir: string,
    private readonly cluster?: ClusterOptions,
  ) {}

  /** Starts a server and waits until its JetStream is healthy (in a cluster: once the cluster formed). */
  static async start(
    options: { name?: string; cluster?: ClusterOptions; wait?: boolean } = {},
  ): Promise<NatsServerProcess> {
    const server = new NatsServerProcess(
      options.name ?? 'nats-test',
      await freePort(),
      await freePort(),
      mkdtempSync(path.join(tmpdir(), 'nats-test-')),
      options.cluster,
    );
    server.spawn();
    if (options.wait !== false) await server.healthy();
    return server;
  }

  get url(): string {
    return `nats://127.0.0.1:${this.port}`;
  }

  get pid(): number | undefined {
    return this.child?.pid;
  }

  get running(): boolean {
    return this.child !== undefined && this.child.exitCode === null && this.child.signalCode === null;
  }

  private spawn(): void {
    const args = [
      '-a',
      '127.0.0.1',
      '-p',
      String(this.port),
      '-m',
      String(this.monitorPort),
      '-js',
      '-sd',
      this.storeDir,
    ];
    args.push('--server_name', this.name);
    if (this.cluster) {
      const routes = this.cluster.routes.map((port) => `nats://127.0.0.1:${port}`).join(',');
      args.push(
        '--cluster_name',
        this.cluster.name,
        '--cluster',
        `nats://127.0.0.1:${this.cluster.port}`,
        '--routes',
        routes,
      );
    }
    const child = spawn(process.env['NATS_SERVER_BIN'] ?? 'nats-server', args, { stdio: ['ignore', 'pipe', 'pipe'] });
    const collect = (chunk: Buffer) => {
      this.output.push(chunk.toString());
      if (this.output.length > 400) this.output.splice(0, 200);
    };
    child.stdout?.on('data', collect);
    child.stderr?.on('data', collect);
    this.exited = new Promise((resolve) => child.once('exit', () => resolve()));
    this.child = child;
  }

  /** Waits until `/healthz` answers 200: JetStream is up and current with the cluster. */
  async healthy(timeoutMs = 20_000): Promise<void> {
    await eventually(
      async () => {
        if (!this.running) throw new Error(`nats-server ${this.name} exited: ${this.logs().slice(-1_000)}`);
        return (await fetch(`http://127.0.0.1:${this.monitorPort}/healthz`)).ok;
      },
      timeoutMs,
      `nats-server ${this.name} to be healthy`,
    );
  }

  /** The server's `/jsz` monitoring document. */
  async jetStream(): Promise<JetStreamStatus> {
    const response = await fetch(`http://127.0.0.1:${this.monitorPort}/jsz`);
    return (await response.json()) as JetStreamStatus;
  }

  /** Names of the clients connected to this server (`/connz`). */
  async clientNames(): Promise<string[]> {
    const response = await fetch(`http://127.0.0.1:${this.monitorPort}/connz?limit=10000`);
    const connz = (await response.json()) as { connections?: { name?: string }[] };
    return (connz.connections ?? []).map((connection) => connection.name ?? '');
  }

  /** Sends `signal` to the server's pid and waits for it to exit. */
  async kill(signal: NodeJS.Signals = 'SIGKILL'): Promise<void> {
    if (!this.running) return;
    this.child?.kill(signal);
    await this.exited;
  }

  /** Starts the server again on the same ports and store directory (after `kill`). */
  async restart(options: { wait?: boolean } = {}): Promise<void> {
    await this.kill();
    this.spawn();
    if (options.wait !== false) await this.healthy();
  }

  /** Kills the server and removes its store directory. */
  async stop(): Promise<void> {
    await this.kill();
    rmSync(this.storeDir, { recursive: true, force: true });
  }

  logs(): string {
    return this.output.join('');
  }
}

/** A JetStream cluster of private `nats-server`s on this machine, named `n1`, `n2`, … */
export class NatsServerCluster {
  private constructor(readonly nodes: NatsServerProcess[]) {}

  /** Starts `size` nodes routed to each other and waits until every node knows the meta leader. */
  static async start(size = 3): Promise<NatsServerCluster> {
    const name = `test-${Math.random().toString(36).slice(2, 8)}`;
    const routes = await Promise.all(Array.from({ length: size }, () => freePort()));
    const nodes: NatsServerProcess[] = [];
    try {
      for (let i = 0; i < size; i++) {
        nodes.push(
          await NatsServerProcess.start({ name: `n${i + 1}`, cluster: { name, port: routes[i], routes }, wait: false }),
        );
      }
      const cluster = new NatsServerCluster(nodes);
      await Promise.all(nodes.map((node) => node.healthy()));
      await cluster.metaLeader();
      return cluster;
    } catch (error) {
      await Promise.all(nodes.map((node) => node.stop()));
      throw error;
    }
  }

  /** Every node's client URL, comma-separated (the form `NATS_URL` takes). */
  get url(): string {
    return this.nodes.map((node) => node.url).join(',');
  }

  /** The name of the JetStream meta leader once every running node agrees on one. */
  async metaLeader(timeoutMs = 20_000): Promise<string> {
    let leader: string | undefined;
    await eventually(
      async () => {
        const views = await Promise.all(
          this.nodes.filter((node) => node.running).map(async (node) => (await node.jetStream()).meta_cluster?.leader),
        );
        leader = views[0];
        return leader !== undefined && leader !== '' && views.every((view) => view === leader);
      },
      timeoutMs,
      'a JetStream meta leader',
    );
    return leader as string;
  }

  node(name: string): NatsServerProcess {
    const node = this.nodes.find((candidate) => candidate.name === name);
    if (!node) throw new Error(`no node ${name}`);
    return node;
  }

  /** Kills every node and removes their store directories. */
  async stop(): Promise<void> {
    await Promise.all(this.nodes.map((node) => node.stop()));
  }
}
