import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { ReadBuffer, serializeMessage } from '@modelcontextprotocol/sdk/shared/stdio.js';
import type { Transport } from '@modelcontextprotocol/sdk/shared/transport.js';
import type { JSONRPCMessage } from '@modelcontextprotocol/sdk/types.js';
import { getDefaultEnvironment } from '@modelcontextprotocol/sdk/client/stdio.js';

export interface ProcessTransportOptions {
  command: string;
  args: string[];
  /** Variables on top of PATH, HOME, USER… (the bridge's own environment is not passed on). */
  env: Record<string, string>;
  cwd: string;
  /** Each line the server writes to stderr (its own logs). */
  onStderr?: (line: string) => void;
}

/**
 * Runs `"$@"` (the server) on the shell's stdin/stdout, and a watcher of fd 3, the bridge's end of which only
 * the bridge holds: when the bridge dies, even by SIGKILL, the watcher sees EOF and kills the whole group
 * (`-$$`: the shell leads it), so no server outlives its bridge. The shell exits when the server does.
 */
const LIFELINE = [
  'exec 4<&0',
  '"$@" <&4 4<&- 3<&- &',
  'server=$!',
  'exec 4<&-',
  '{ cat <&3 >/dev/null 2>&1; kill -KILL -$$; } &',
  'exec 3<&-',
  'wait "$server"',
].join('\n');

/**
 * MCP over a child's stdin/stdout, like the SDK's `StdioClientTransport`, but the child leads a process
 * group of its own: stopping it signals the whole group, so nothing it started outlives it; and a lifeline
 * (see `LIFELINE`) ends the group when the bridge itself dies without stopping it.
 */
export class ProcessTransport implements Transport {
  onclose?: () => void;
  onerror?: (error: Error) => void;
  onmessage?: (message: JSONRPCMessage) => void;

  private child?: ChildProcessWithoutNullStreams;
  private readonly buffer = new ReadBuffer();
  private exited?: Promise<void>;
  private stderrTail = '';
  private reaped = false;

  constructor(private readonly options: ProcessTransportOptions) {}

  /** The pid of the upstream's shell, leader of its process group, once started. */
  get pid(): number | undefined {
    return this.child?.pid;
  }

  start(): Promise<void> {
    return new Promise((resolve, reject) => {
      const { command, args, env, cwd } = this.options;
      // Detached: the shell leads a new process group (its `kill -$$` could otherwise reach the bridge's).
      const child = spawn('/bin/sh', ['-c', LIFELINE, 'mcp-upstream', command, ...args], {
        cwd,
        env: { ...getDefaultEnvironment(), ...env },
        stdio: ['pipe', 'pipe', 'pipe', 'pipe'],
        detached: true,
        windowsHide: true,
      }) as ChildProcessWithoutNullStreams;
      this.child = child;
      this.exited = new Promise((done) => child.once('exit', () => done()));
      child.once('error', (error) => {
        reject(error);
        this.onerror?.(error);
      });
      child.once('spawn', () => resolve());
      child.once('exit', () => {
        // Anything the server started in its group goes with it; then the group id is never signalled again
        // (the number may be reused by an unrelated group).
        this.signalGroup('SIGKILL');
        this.reaped = true;
        this.onclose?.();
      });
      child.stdout.on('data', (chunk: Buffer) => {
        this.buffer.append(chunk);
        for (;;) {
          let message: JSONRPCMessage | null;
          try {
            message = this.buffer.readMessage();
          } catch (error) {
            this.onerror?.(error as Error);
            continue;
          }
          if (!message) break;
          this.onmessage?.(message);
        }
      });
      child.stderr.on('data', (chunk: Buffer) => {
        const lines = (this.stderrTail + chunk.toString('utf8')).split('\n');
        this.stderrTail = lines.pop()?.slice(-4_000) ?? '';
        for (const line of lines) if (line) this.options.onStderr?.(line);
      });
      // A write to a child that is gone raises EPIPE here; its exit is reported by 'exit'.
      child.stdin.on('error', () => undefined);
      child.stdout.on('error', () => undefined);
    });
  }

  send(message: JSONRPCMessage): Promise<void> {
    return new Promise((resolve, reject) => {
      const stdin = this.child?.stdin;
      if (!stdin || !stdin.writable) return reject(new Error('The upstream process is not running'));
      if (stdin.write(serializeMessage(message))) resolve();
      else stdin.once('drain', resolve);
    });
  }

  /** Ends the child: stdin closed and SIGTERM to its group, SIGKILL to the group after `graceMs`. */
  async close(graceMs = 2_000): Promise<void> {
    const child = this.child;
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    child.stdin.end();
    this.signalGroup('SIGTERM');
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([this.exited, new Promise((resolve) => (timer = setTimeout(resolve, graceMs)))]);
    clearTimeout(timer);
    this.signalGroup('SIGKILL');
    await this.exited;
  }

  /** Kills the child's group at once (a hung server). */
  kill(): void {
    this.signalGroup('SIGKILL');
  }

  private signalGroup(signal: NodeJS.Signals): void {
    const pid = this.child?.pid;
    if (pid === undefined || this.reaped) return;
    try {
      process.kill(-pid, signal);
    } catch {
      // The group is gone already.
    }
  }
}
