// Processes of a benchmark, servers and the load generator: real OS processes, optionally pinned to CPUs
// with taskset, watched for CPU time through /proc, and all killed when the run ends, fails or is interrupted.
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { connect, createServer } from 'node:net';
import { cpus } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

const live = new Set();

/** A free TCP port on 127.0.0.1. */
export function freePort() {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
  });
}

/** Whether something on 127.0.0.1 accepts TCP connections on `port`. */
function accepts(port) {
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1');
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}

/** Polls `check` until it returns something truthy, or throws after `timeoutMs` (at once for an error marked `fatal`). */
export async function eventually(check, timeoutMs, what) {
  const deadline = Date.now() + timeoutMs;
  let lastError;
  for (;;) {
    try {
      const value = await check();
      if (value) return value;
    } catch (error) {
      if (error.fatal) throw error;
      lastError = error;
    }
    if (Date.now() > deadline)
      throw new Error(
        `timed out after ${timeoutMs} ms waiting for ${what}${lastError ? `: ${lastError.message}` : ''}`,
      );
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

/** Whether `taskset` can pin processes here (Linux with util-linux and at least two CPUs). */
export const canPin = cpus().length >= 2 && spawnSync('taskset', ['-c', '0', 'true']).status === 0;

/** Command and arguments that run `command` on the CPU list `cpuList` ('1', '0-1'); unpinned without one. */
export function pinnedCommand(cpuList, command, args) {
  return cpuList === undefined ? [command, args] : ['taskset', ['-c', cpuList, command, ...args]];
}

const CLOCK_TICKS = (() => {
  try {
    return Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
  } catch {
    return 100;
  }
})();

function statFields(pid) {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  // Fields after the command name, which is in parentheses and may contain spaces; field 3 comes first.
  return stat.slice(stat.lastIndexOf(')') + 2).split(' ');
}

/** Pids of `pid` and of all its descendants (a server may run workers or a child server). */
export function processTree(pid) {
  const children = new Map();
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const parent = Number(statFields(entry)[1]);
      children.set(parent, [...(children.get(parent) ?? []), Number(entry)]);
    } catch {
      // the process ended while we looked
    }
  }
  const tree = [];
  for (const queue = [pid]; queue.length > 0;) {
    const next = queue.shift();
    tree.push(next);
    queue.push(...(children.get(next) ?? []));
  }
  return tree;
}

/** User + system CPU time in ms of `pid` and its live descendants, from /proc (NaN when `pid` is gone). */
export function cpuTimeMs(pid) {
  let ticks = 0;
  for (const member of processTree(pid)) {
    try {
      const fields = statFields(member);
      ticks += Number(fields[11]) + Number(fields[12]);
    } catch {
      if (member === pid) return NaN;
    }
  }
  return (ticks * 1000) / CLOCK_TICKS;
}

/**
 * Time in ms the main thread of `pid` (a Node event loop) ran on a CPU and waited in a run queue for one,
 * from /proc/<pid>/schedstat (NaN where the kernel does not keep it).
 */
export function mainThreadSchedMs(pid) {
  try {
    const [runNs, waitNs] = readFileSync(`/proc/${pid}/schedstat`, 'utf8').split(' ').map(Number);
    return { run: runNs / 1e6, wait: waitNs / 1e6 };
  } catch {
    return { run: NaN, wait: NaN };
  }
}

/** CPU time in ms that all CPUs of the machine spent busy (not idle or waiting for I/O), from /proc/stat. */
export function machineBusyMs() {
  try {
    const [user, nice, system, , , irq, softirq, steal] = readFileSync('/proc/stat', 'utf8')
      .split('\n')[0]
      .trim()
      .split(/\s+/)
      .slice(1)
      .map(Number);
    return ((user + nice + system + irq + softirq + steal) * 1000) / CLOCK_TICKS;
  } catch {
    return NaN;
  }
}

/** Pid of the machine's nats-server when exactly one runs here (its CPU is reported, never touched). */
export function findNatsServerPid() {
  const found = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      if (readFileSync(`/proc/${entry}/comm`, 'utf8').trim() === 'nats-server') found.push(Number(entry));
    } catch {
      // the process ended while we looked
    }
  }
  return found.length === 1 ? found[0] : undefined;
}

/** One process started by the benchmark (a server or the load generator); its last output explains a failure. */
export class BenchProcess {
  output = [];
  exitCode = undefined;

  constructor(name, child, port) {
    this.name = name;
    this.child = child;
    this.port = port;
    const collect = (chunk) => {
      this.output.push(chunk.toString());
      if (this.output.length > 200) this.output.splice(0, 100);
    };
    child.stdout.on('data', collect);
    child.stderr.on('data', collect);
    this.exited = new Promise((resolve) => {
      child.once('exit', (code, signal) => {
        this.exitCode = code ?? signal;
        live.delete(this);
        resolve();
      });
      child.once('error', (error) => {
        this.output.push(String(error));
        this.exitCode = 'spawn error';
        live.delete(this);
        resolve();
      });
    });
    live.add(this);
  }

  /** Starts `command args` with `env` on top of this process's environment, pinned to `cpuList` if given. */
  static spawn({ name, command, args = [], env = {}, port, cpuList, ipc = false }) {
    const [file, argv] = pinnedCommand(cpuList, command, args);
    const stdio = ['ignore', 'pipe', 'pipe', ...(ipc ? ['ipc'] : [])];
    const child = spawn(file, argv, { cwd: ROOT, env: { ...process.env, ...env }, stdio });
    return new BenchProcess(name, child, port);
  }

  /** Starts an app of this repo from its build output (`node [nodeArgs] dist/apps/<app>/main.js`) on a free port. */
  static async app(app, { name = app, env = {}, cpuList, nodeArgs = [] } = {}) {
    const main = path.join(ROOT, 'dist/apps', app, 'main.js');
    if (!existsSync(main)) throw new Error(`${main} is missing: run \`npm run build\` first`);
    const port = await freePort();
    return BenchProcess.spawn({
      name,
      command: process.execPath,
      args: [...nodeArgs, main],
      env: { ...env, PORT: String(port) },
      port,
      cpuList,
    });
  }

  get pid() {
    return this.child.pid;
  }

  get url() {
    return `http://127.0.0.1:${this.port}`;
  }

  get running() {
    return this.exitCode === undefined;
  }

  /** CPU time so far in ms of the process and its descendants (taskset execs the command: the pid is the server's). */
  cpuTimeMs() {
    return cpuTimeMs(this.pid);
  }

  /** Waits until GET `path` answers 2xx. */
  async ready(readyPath = '/readyz', timeoutMs = 30_000) {
    await eventually(
      async () => {
        if (!this.running)
          throw Object.assign(new Error(`${this.name} exited (${this.exitCode}): ${this.logs().slice(-2_000)}`), {
            fatal: true,
          });
        return (await fetch(this.url + readyPath)).ok;
      },
      timeoutMs,
      `${this.name} to be ready`,
    );
    return this;
  }

  /** Waits until the process's port accepts TCP connections (for servers without a readiness route). */
  async listening(timeoutMs = 30_000) {
    await eventually(
      async () => {
        if (!this.running)
          throw Object.assign(new Error(`${this.name} exited (${this.exitCode}): ${this.logs().slice(-2_000)}`), {
            fatal: true,
          });
        return accepts(this.port);
      },
      timeoutMs,
      `${this.name} to listen on port ${this.port}`,
    );
    return this;
  }

  /** Resident memory in bytes of the process alone (VmRSS; NaN when it is gone). */
  rssBytes() {
    try {
      const line = readFileSync(`/proc/${this.pid}/status`, 'utf8')
        .split('\n')
        .find((candidate) => candidate.startsWith('VmRSS:'));
      return Number(line.split(/\s+/)[1]) * 1024;
    } catch {
      return NaN;
    }
  }

  /** Sends SIGKILL to the process and its descendants (workers, child servers). */
  killNow() {
    if (!this.running) return;
    for (const pid of processTree(this.pid).reverse()) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // already gone
      }
    }
  }

  async kill() {
    this.killNow();
    await this.exited;
  }

  logs() {
    return this.output.join('');
  }
}

/** Kills every process the benchmark started that still runs. */
export async function killAll() {
  await Promise.all([...live].map((server) => server.kill()));
}

/** Kills what is left when the runner exits, however it exits (last resort: synchronous SIGKILLs). */
export function killAllOnExit() {
  process.on('exit', () => {
    for (const started of live) started.killNow();
  });
}
