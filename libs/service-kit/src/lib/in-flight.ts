import { Injectable } from '@nestjs/common';

/** One piece of work this replica runs now: a plain call, or a task taken from the work queue. */
export interface InFlight {
  kind: 'call' | 'task';
  controller: AbortController;
  /** Settles once the work has ended and its outcome is sent (the reply, or the task's record and ack). */
  finished: Promise<void>;
}

/**
 * What this replica runs now, by call id (a task's id for a task): a cancel aborts it by id whatever it is,
 * a probe finds it, and the drain waits for all of it. Shared by the `FabricServer` and the `TaskWorker`.
 */
@Injectable()
export class InFlightWork {
  private readonly work = new Map<string, InFlight>();
  // Kept as counts: the call path checks its limit on every request.
  private readonly counts = { call: 0, task: 0 };

  add(id: string, entry: InFlight): void {
    this.delete(id);
    this.work.set(id, entry);
    this.counts[entry.kind]++;
  }

  delete(id: string): void {
    const entry = this.work.get(id);
    if (!entry) return;
    this.work.delete(id);
    this.counts[entry.kind]--;
  }

  has(id: string): boolean {
    return this.work.has(id);
  }

  /** Aborts the work with this id, if this replica runs it. */
  abort(id: string, reason: unknown): void {
    this.work.get(id)?.controller.abort(reason);
  }

  /** How many calls (or tasks) run now. */
  count(kind: InFlight['kind']): number {
    return this.counts[kind];
  }

  /** Everything running now. */
  all(): InFlight[] {
    return [...this.work.values()];
  }
}
