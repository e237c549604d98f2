import { Logger } from '@nestjs/common';
import type { BridgeConfig } from './bridge.config';
import { NoUpstreamError } from './bridge.errors';
import { UpstreamConnection } from './upstream.connection';

interface Waiter {
  resolve: (connection: UpstreamConnection) => void;
  reject: (error: unknown) => void;
  signal: AbortSignal;
  /** Stays queued while no connection is up (else it fails then, to go to another replica). */
  waitForUp: boolean;
  onAbort: () => void;
}

/**
 * `BRIDGE_POOL` supervised connections to the upstream, each running up to `BRIDGE_CALLS_PER_PROCESS`
 * calls: one that exits or stops answering pings is killed (its process group with it) and started again
 * after a pause doubling from `BRIDGE_RESTART_MIN_MS` to `BRIDGE_RESTART_MAX_MS`.
 */
export class UpstreamPool {
  private readonly log = new Logger('UpstreamPool');
  private readonly slots: (UpstreamConnection | undefined)[];
  private readonly waiters: Waiter[] = [];
  private readonly supervisors: Promise<void>[] = [];
  private stopping = false;
  private wakeStop!: () => void;
  private readonly stopped = new Promise<void>((resolve) => (this.wakeStop = resolve));
  private upListeners: ((connection: UpstreamConnection) => void)[] = [];

  constructor(
    private readonly config: BridgeConfig,
    private readonly hooks: {
      /** A connection came up (first start or restart). */
      onUp: (connection: UpstreamConnection) => void;
      /** The upstream said on `connection` that one of its lists changed. */
      onListChanged: (connection: UpstreamConnection) => void;
    },
  ) {
    this.slots = Array.from({ length: config.pool }, () => undefined);
    // Last resort when the bridge exits without stopping the pool (a crash): no upstream outlives it.
    process.once('exit', this.killAll);
  }

  private readonly killAll = () => {
    for (const connection of this.slots) connection?.kill('the bridge exited');
  };

  /** Connections up now. */
  get up(): UpstreamConnection[] {
    return this.slots.filter((slot): slot is UpstreamConnection => slot !== undefined && !slot.isLost);
  }

  /** Pids of the upstream processes running now (stdio). */
  get pids(): number[] {
    return this.up.map((connection) => connection.pid).filter((pid): pid is number => pid !== undefined);
  }

  /** Starts every slot's supervisor; resolves once one connection is up, or after `timeoutMs` regardless. */
  start(timeoutMs: number): Promise<UpstreamConnection | undefined> {
    const first = new Promise<UpstreamConnection>((resolve) => this.upListeners.push(resolve));
    for (let slot = 0; slot < this.slots.length; slot++) this.supervisors.push(this.supervise(slot));
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<undefined>((resolve) => (timer = setTimeout(() => resolve(undefined), timeoutMs)));
    return Promise.race([first, timeout]).finally(() => clearTimeout(timer));
  }

  /**
   * Runs `fn` once this call has a connection with room, waiting for one while all are busy. While none is up
   * it fails at once (not started: the gateway sends the call elsewhere), or with `waitForUp` (a call run again
   * after its upstream died) waits for a restart, up to the call's signal.
   */
  async with<T>(
    signal: AbortSignal,
    fn: (connection: UpstreamConnection) => Promise<T>,
    waitForUp = false,
  ): Promise<T> {
    const connection = await this.acquire(signal, waitForUp);
    try {
      return await fn(connection);
    } finally {
      connection.reserved--;
      this.dispatchWaiters();
    }
  }

  /** Ends every connection (SIGTERM, SIGKILL after the grace), and starts none again. */
  async stop(): Promise<void> {
    if (this.stopping) return Promise.all(this.supervisors).then(() => undefined);
    this.stopping = true;
    this.wakeStop();
    for (const waiter of this.waiters.splice(0)) waiter.reject(new NoUpstreamError());
    await Promise.all(this.supervisors);
    process.removeListener('exit', this.killAll);
  }

  private acquire(signal: AbortSignal, waitForUp: boolean): Promise<UpstreamConnection> {
    signal.throwIfAborted();
    const free = this.freeConnection();
    if (free) return Promise.resolve(free);
    if (this.stopping || (this.up.length === 0 && !waitForUp)) return Promise.reject(new NoUpstreamError());
    return new Promise((resolve, reject) => {
      const waiter: Waiter = {
        resolve,
        reject,
        signal,
        waitForUp,
        onAbort: () => {
          this.waiters.splice(this.waiters.indexOf(waiter), 1);
          reject(signal.reason);
        },
      };
      signal.addEventListener('abort', waiter.onAbort, { once: true });
      this.waiters.push(waiter);
    });
  }

  /** The least loaded connection with room for one more call, taken (its load counted) at once. */
  private freeConnection(): UpstreamConnection | undefined {
    const candidates = this.up.filter((connection) => connection.reserved < this.config.callsPerProcess);
    const best = candidates.sort((a, b) => a.reserved - b.reserved)[0];
    if (best) best.reserved++;
    return best;
  }

  private dispatchWaiters(): void {
    while (this.waiters.length > 0) {
      const free = this.freeConnection();
      if (!free) break;
      const waiter = this.waiters.shift() as Waiter;
      waiter.signal.removeEventListener('abort', waiter.onAbort);
      waiter.resolve(free);
    }
    // Nothing left to wait for: the calls queued here go elsewhere instead of waiting for a restart.
    if (this.up.length > 0) return;
    for (const waiter of this.waiters.filter((queued) => !queued.waitForUp)) {
      this.waiters.splice(this.waiters.indexOf(waiter), 1);
      waiter.signal.removeEventListener('abort', waiter.onAbort);
      waiter.reject(new NoUpstreamError());
    }
  }

  private async supervise(slot: number): Promise<void> {
    let failures = 0;
    while (!this.stopping) {
      const connection = new UpstreamConnection(slot, this.config.target, {
        onListChanged: (changed) => this.hooks.onListChanged(changed),
        onStderr: (line) => this.log.debug(`upstream ${slot}: ${line}`),
      });
      let healthy = false;
      try {
        await connection.open(this.config.connectTimeoutMs);
        if (this.stopping) {
          await connection.close('the bridge is stopping');
          break;
        }
        this.slots[slot] = connection;
        this.log.log(`upstream ${slot} up${connection.pid ? ` (pid ${connection.pid})` : ''}`);
        for (const listener of this.upListeners.splice(0)) listener(connection);
        this.hooks.onUp(connection);
        this.dispatchWaiters();
        healthy = await this.watch(connection);
      } catch (error) {
        this.log.warn(`upstream ${slot} failed to start: ${(error as Error).message}`);
      }
      this.slots[slot] = undefined;
      const why = this.stopping ? 'the bridge is stopping' : 'the upstream stopped';
      // Calls it held fail now (UpstreamLostError); queued calls move to another connection or replica.
      connection.kill(why);
      await connection.close(why, 0);
      this.dispatchWaiters();
      if (this.stopping) break;
      failures = healthy ? 1 : failures + 1;
      const pause = Math.min(this.config.restartMinMs * 2 ** (failures - 1), this.config.restartMaxMs);
      this.log.warn(`upstream ${slot} down; restarting in ${pause} ms`);
      await Promise.race([new Promise((resolve) => setTimeout(resolve, pause).unref()), this.stopped]);
    }
  }

  /**
   * Watches a connection until it is lost, pings unanswered, or the pool stops (then closes it gracefully);
   * returns whether it answered at least one ping (a crash after that starts the backoff over).
   */
  private async watch(connection: UpstreamConnection): Promise<boolean> {
    let healthy = false;
    for (;;) {
      let timer: NodeJS.Timeout | undefined;
      const tick = new Promise<'tick'>((resolve) => (timer = setTimeout(() => resolve('tick'), this.config.pingMs)));
      const event = await Promise.race([
        tick,
        connection.lost.then(() => 'lost' as const),
        this.stopped.then(() => 'stop' as const),
      ]);
      clearTimeout(timer);
      if (event === 'lost') return healthy;
      if (event === 'stop') {
        await connection.close('the bridge is stopping');
        return healthy;
      }
      if (!(await connection.ping(this.config.pingTimeoutMs))) {
        if (connection.isLost) return healthy;
        this.log.warn(
          `upstream ${connection.slot} did not answer a ping within ${this.config.pingTimeoutMs} ms: killing it`,
        );
        connection.kill('it stopped answering');
        return healthy;
      }
      healthy = true;
    }
  }
}
