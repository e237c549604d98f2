import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { eventuallyValue, freePort } from '@fabric/platform-nats/testing';

export { freePort };

export const ROOT = path.resolve(__dirname, '../../../..');

/** Polls `check` until it returns a value other than undefined/false, or fails after `timeoutMs`. */
export function eventually<T>(
  check: () => Promise<T | undefined | false> | T | undefined | false,
  timeoutMs = 10_000,
  what = 'condition',
): Promise<T> {
  return eventuallyValue(check, timeoutMs, what);
}

/** One app started as an OS process from its build output, as `node dist/apps/<app>/main.js`. */
export class AppProcess {
  readonly output: string[] = [];
  private exitCode?: number | null;
  private readonly exited: Promise<void>;

  private constructor(
    readonly app: string,
    readonly port: number,
    readonly child: ChildProcess,
  ) {
    const collect = (chunk: Buffer) => {
      this.output.push(chunk.toString());
      if (this.output.length > 2_000) this.output.splice(0, 1_000);
    };
    child.stdout?.on('data', collect);
    child.stderr?.on('data', collect);
    this.exited = new Promise((resolve) =>
      child.once('exit', (code) => {
        this.exitCode = code;
        resolve();
      }),
    );
  }

  static async start(app: string, env: Record<string, string>): Promise<AppProcess> {
    const main = path.join(ROOT, 'dist/apps', app, 'main.js');
    if (!existsSync(main)) throw new Error(`${main} is missing: run \`npm run build\` first`);
    const port = env['PORT'] ? Number(env['PORT']) : await freePort();
    const child = spawn(process.execPath, [main], {
      cwd: ROOT,
      env: { ...process.env, LOG_LEVEL: 'warn', ...env, PORT: String(port) },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    return new AppProcess(app, port, child);
  }

  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  get running(): boolean {
    return this.exitCode === undefined;
  }

  /** Waits until `/readyz` answers 200. */
  async ready(timeoutMs = 20_000): Promise<this> {
    await eventually(
      async () => {
        if (!this.running) throw new Error(`${this.app} exited: ${this.output.join('').slice(-2_000)}`);
        const response = await fetch(`${this.url}/readyz`);
        return response.ok;
      },
      timeoutMs,
      `${this.app} to be ready`,
    );
    return this;
  }

  /** Sends a signal and waits for the process to exit (SIGKILL after `timeoutMs`). */
  async stop(signal: NodeJS.Signals = 'SIGTERM', timeoutMs = 15_000): Promise<number | null | undefined> {
    if (!this.running) return this.exitCode;
    this.child.kill(signal);
    const timer = setTimeout(() => this.child.kill('SIGKILL'), timeoutMs);
    await this.exited;
    clearTimeout(timer);
    return this.exitCode;
  }

  /** Waits for the process to exit by itself. */
  async exit(): Promise<number | null | undefined> {
    await this.exited;
    return this.exitCode;
  }

  logs(): string {
    return this.output.join('');
  }
}
