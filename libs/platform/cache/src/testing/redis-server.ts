import { spawn, type ChildProcess } from 'node:child_process';
import { createConnection } from 'node:net';
import { eventually, freePort } from '@fabric/platform-nats/testing';

/** True when a Redis answers PING on the port (a raw RESP exchange: no client library state to reset). */
function answersPing(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = createConnection({ host: '127.0.0.1', port });
    const done = (ok: boolean) => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(500, () => done(false));
    socket.once('error', () => done(false));
    socket.once('connect', () => socket.write('PING\r\n'));
    // Without the password a server that requires one answers -NOAUTH: it is up all the same.
    socket.once('data', (data) => done(/^(\+PONG|-NOAUTH)/.test(data.toString())));
  });
}

/**
 * A private `redis-server` for tests that kill, pause and restart it: its own port, nothing kept on disk,
 * killed by pid. Never the machine's Redis.
 */
export class RedisServerProcess {
  private child?: ChildProcess;
  private exited?: Promise<void>;

  private constructor(
    readonly port: number,
    private readonly password?: string,
  ) {}

  /** Starts a server (with `password`: requiring it) and waits until it answers. */
  static async start(options: { password?: string } = {}): Promise<RedisServerProcess> {
    const server = new RedisServerProcess(await freePort(), options.password);
    await server.restart();
    return server;
  }

  get url(): string {
    return `redis://${this.password ? `:${this.password}@` : ''}127.0.0.1:${this.port}`;
  }

  get running(): boolean {
    return this.child !== undefined && this.child.exitCode === null && this.child.signalCode === null;
  }

  /** Starts the server (again, after `kill`) on the same port, empty, and waits until it answers. */
  async restart(): Promise<void> {
    await this.kill();
    const args = ['--port', String(this.port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'];
    if (this.password) args.push('--requirepass', this.password);
    const child = spawn('redis-server', args, { stdio: 'ignore' });
    this.child = child;
    this.exited = new Promise((resolve) => child.once('exit', () => resolve()));
    await eventually(() => answersPing(this.port), 10_000, `redis-server on port ${this.port}`);
  }

  /** Stops answering without closing connections (SIGSTOP): a hung Redis. `resume()` undoes it. */
  pause(): void {
    this.child?.kill('SIGSTOP');
  }

  resume(): void {
    this.child?.kill('SIGCONT');
  }

  /** Kills the server by pid and waits for it to exit. */
  async kill(signal: NodeJS.Signals = 'SIGKILL'): Promise<void> {
    if (!this.running) return;
    this.child?.kill('SIGCONT');
    this.child?.kill(signal);
    await this.exited;
  }

  stop(): Promise<void> {
    return this.kill();
  }
}
