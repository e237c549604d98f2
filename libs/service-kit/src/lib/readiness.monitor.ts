import type { ReadinessRegistry } from '@fabric/platform-observability';

export interface ReadinessMonitorOptions {
  /** Pause between the end of one round of checks and the start of the next. */
  intervalMs: number;
  /** A check that has not answered within this long counts as failing for its round. */
  timeoutMs: number;
}

/** Why a replica is not ready (`name: reason` of each failing check), or undefined when it is. */
export type ReadinessChange = (problem: string | undefined) => Promise<void> | void;

/**
 * Runs the readiness checks on a schedule of their own, apart from the heartbeat: a slow or hanging check
 * delays only the next round of checks, never an announcement, which carries the latest known state.
 * Rounds never overlap; `onChange` is awaited before the next round starts.
 */
export class ReadinessMonitor {
  private timer?: NodeJS.Timeout;
  private stopped = false;
  private current?: string;

  constructor(
    private readonly readiness: ReadinessRegistry,
    private readonly options: ReadinessMonitorOptions,
    private readonly onChange: ReadinessChange,
  ) {}

  /** The problem found by the latest finished round, or undefined while ready (and before the first round). */
  get problem(): string | undefined {
    return this.current;
  }

  start(): void {
    this.stopped = false;
    this.schedule();
  }

  /** No round starts after this; a round under way reports nothing. */
  stop(): void {
    this.stopped = true;
    clearTimeout(this.timer);
  }

  private schedule(): void {
    if (this.stopped) return;
    this.timer = setTimeout(() => void this.round(), this.options.intervalMs);
    this.timer.unref();
  }

  private async round(): Promise<void> {
    try {
      const failing = await this.readiness.failing(this.options.timeoutMs);
      if (this.stopped) return;
      const problem = failing.length > 0 ? failing.join('; ') : undefined;
      // Only a change between ready and not ready is reported: the reason may vary while a dependency stays down.
      const changed = (problem === undefined) !== (this.current === undefined);
      this.current = problem;
      if (changed) await this.onChange(problem);
    } finally {
      this.schedule();
    }
  }
}
