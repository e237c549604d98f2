import cluster, { type Worker } from 'node:cluster';
import { availableParallelism } from 'node:os';
import { z } from 'zod';
import { ConfigError, intEnv, loadConfig } from '@fabric/platform-config';
import { aggregateWorkerMetrics } from '@fabric/platform-observability';

const workersEnvSchema = z.object({
  /** Processes serving the app: a positive integer, or `auto` for one per core. */
  WORKERS: z.preprocess((value) => (value === 'auto' ? availableParallelism() : value), intEnv(1, 1)),
});

/** How many processes `WORKERS` asks for: a positive integer, or `auto` for one per core; 1 when unset. */
export function workerCount(env: NodeJS.ProcessEnv = process.env): number {
  try {
    return loadConfig(workersEnvSchema, env).WORKERS;
  } catch (error) {
    // One line that says what is accepted, instead of zod's "expected number, received NaN".
    const issue = `WORKERS must be a positive integer or "auto", not "${env['WORKERS']}"`;
    throw new ConfigError(issue, error instanceof ConfigError ? error.issues : [issue]);
  }
}

/** When to replace a worker that died: the delay doubles while workers die young, and replacing stops after too many in a row. */
export class RestartBackoff {
  private youngDeaths = 0;

  constructor(private readonly limits = { youngMs: 10_000, firstDelayMs: 100, maxYoungDeaths: 5 }) {}

  /** Milliseconds to wait before replacing a worker that lived `livedMs`, or undefined to give up. */
  next(livedMs: number): number | undefined {
    this.youngDeaths = livedMs < this.limits.youngMs ? this.youngDeaths + 1 : 0;
    if (this.youngDeaths >= this.limits.maxYoungDeaths) return undefined;
    return this.limits.firstDelayMs * 2 ** this.youngDeaths;
  }
}

/**
 * Runs `start` in this process or, when `WORKERS` > 1, in that many cluster workers sharing the listen port;
 * resolves to what `start` returns, or to undefined in the primary, which only supervises its workers.
 */
export async function startWithWorkers<T>(
  app: string,
  start: () => Promise<T>,
  env: NodeJS.ProcessEnv = process.env,
): Promise<T | undefined> {
  if (cluster.isWorker) {
    // Ctrl-C sends SIGINT to the whole process group: the primary forwards it as SIGTERM, so a worker drains once.
    process.on('SIGINT', () => undefined);
    return start();
  }
  const count = workerCount(env);
  if (count === 1) return start();
  new WorkerPool(app).start(count);
  return undefined;
}

interface Slot {
  index: number;
  /** A worker of this slot has listened once: a later death is a crash, not a failed start. */
  up: boolean;
  backoff: RestartBackoff;
}

/**
 * The primary: forks the workers, replaces the ones that crash, stops them all on SIGTERM or SIGINT, and
 * combines their metrics for whichever of them answers `/metrics`.
 */
class WorkerPool {
  /** Each live worker and its slot. */
  private readonly live = new Map<Worker, Slot>();
  private readonly pending = new Set<NodeJS.Timeout>();
  private stopping = false;
  private exitCode = 0;

  constructor(private readonly app: string) {}

  start(count: number): void {
    for (const signal of ['SIGTERM', 'SIGINT'] as const) process.on(signal, () => this.stop(0));
    aggregateWorkerMetrics((worker) => this.live.get(worker)?.index.toString());
    for (let index = 0; index < count; index++) this.fork({ index, up: false, backoff: new RestartBackoff() });
  }

  private fork(slot: Slot): void {
    // The slot, not the fork count: a replacement keeps the index (in instance ids, logs, metric labels).
    const worker = cluster.fork({ WORKER_INDEX: String(slot.index) });
    const forkedAt = Date.now();
    this.live.set(worker, slot);
    worker.once('listening', () => (slot.up = true));
    worker.once('exit', (code, signal) => {
      this.live.delete(worker);
      if (this.stopping) {
        if (code !== 0) this.exitCode = 1;
        if (this.live.size === 0) process.exit(this.exitCode);
        return;
      }
      const how = `worker ${slot.index} (pid ${worker.process.pid}) exited with ${signal ?? `code ${code}`}`;
      if (!slot.up) return this.giveUp(`${how} before it started`);
      const delay = slot.backoff.next(Date.now() - forkedAt);
      if (delay === undefined) return this.giveUp(`${how}; its workers keep dying right after start`);
      this.log(`${how}; starting a new one in ${delay} ms`);
      const timer = setTimeout(() => {
        this.pending.delete(timer);
        this.fork(slot);
      }, delay);
      this.pending.add(timer);
    });
  }

  private giveUp(reason: string): void {
    this.log(`${reason}; stopping`);
    this.stop(1);
  }

  /** The first call drains every worker with SIGTERM; a second one kills them at once. */
  private stop(exitCode: number): void {
    if (this.stopping) {
      for (const worker of this.live.keys()) worker.process.kill('SIGKILL');
      process.exit(1);
    }
    this.stopping = true;
    this.exitCode = exitCode;
    for (const timer of this.pending) clearTimeout(timer);
    for (const worker of this.live.keys()) worker.process.kill('SIGTERM');
    if (this.live.size === 0) process.exit(this.exitCode);
  }

  private log(line: string): void {
    process.stderr.write(`${this.app}: ${line}\n`);
  }
}
