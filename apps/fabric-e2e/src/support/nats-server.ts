import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { connect } from 'nats';
import { eventually, freePort } from './processes';

/**
 * A NATS server of the test's own (JetStream on, its store in a temporary folder), which the test can kill
 * and start again on the same port and store, unlike the machine's server that other runs share.
 */
export class NatsServer {
  private child?: ChildProcess;
  private exited?: Promise<void>;
  private readonly output: string[] = [];

  private constructor(
    readonly port: number,
    private readonly storeDir: string,
  ) {}

  static async start(): Promise<NatsServer> {
    const server = new NatsServer(await freePort(), await mkdtemp(path.join(tmpdir(), 'e2e-nats-')));
    await server.restart();
    return server;
  }

  get url(): string {
    return `nats://127.0.0.1:${this.port}`;
  }

  get running(): boolean {
    return this.child !== undefined;
  }

  /** Starts the server (again), on the same port and store, and waits until JetStream answers. */
  async restart(): Promise<void> {
    if (this.child) return;
    const child = spawn('nats-server', ['-a', '127.0.0.1', '-p', String(this.port), '-js', '-sd', this.storeDir], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    child.stdout?.on('data', (chunk: Buffer) => this.output.push(chunk.toString()));
    child.stderr?.on('data', (chunk: Buffer) => this.output.push(chunk.toString()));
    this.child = child;
    this.exited = new Promise((resolve) =>
      child.once('exit', () => {
        this.child = undefined;
        resolve();
      }),
    );
    await eventually(
      async () => {
        if (!this.child) throw new Error(`nats-server exited: ${this.output.join('').slice(-2_000)}`);
        const connection = await connect({ servers: this.url, timeout: 500, reconnect: false });
        try {
          await (await connection.jetstreamManager()).getAccountInfo();
          return true;
        } finally {
          await connection.close();
        }
      },
      10_000,
      `nats-server on port ${this.port} to serve JetStream`,
    );
  }

  /** Sends `signal` to the server and waits for it to exit. */
  async kill(signal: NodeJS.Signals = 'SIGKILL'): Promise<void> {
    if (!this.child) return;
    this.child.kill(signal);
    await this.exited;
  }

  /** Kills the server and deletes its store. */
  async stop(): Promise<void> {
    await this.kill();
    await rm(this.storeDir, { recursive: true, force: true });
  }
}
