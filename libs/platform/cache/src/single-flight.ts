import { setTimeout as delay } from 'node:timers/promises';
import type { RedisRead } from './redis.level';

/** What a load gave: `shared` false when the value may not be handed to others (uncacheable). */
export interface LoadOutcome<T> {
  value: T;
  shared: boolean;
}

/** A load in progress in this process, joined by identical misses that arrive while it runs. */
export interface Flight {
  /** The local sequence when it started: a joiner arriving after an invalidation of its guards starts anew. */
  snapshot: number;
  promise: Promise<LoadOutcome<unknown>>;
}

/** The loads in progress in this process, by space and key. */
export class Flights {
  private readonly flights = new Map<string, Flight>();

  get(id: string): Flight | undefined {
    return this.flights.get(id);
  }

  /** Registers a flight until it settles (a newer flight under the same id is left in place). */
  track(id: string, flight: Flight): void {
    this.flights.set(id, flight);
    const done = () => {
      if (this.flights.get(id) === flight) this.flights.delete(id);
    };
    flight.promise.then(done, done);
  }
}

/** How waiting for another replica's load ended. */
export type FleetWait = { json: string } | { json?: undefined; reason: 'gone' | 'waited' | 'unavailable' };

/**
 * Polls Redis for the entry another replica is loading, at intervals growing from 2 ms to 25 ms, for at most
 * `waitMs`; ends early when its lock is gone without an entry (the holder died or its value was not kept).
 */
export async function awaitFleetLoad(
  peek: () => Promise<RedisRead>,
  waitMs: number,
  now: () => number = Date.now,
): Promise<FleetWait> {
  const deadline = now() + waitMs;
  let interval = 2;
  while (now() < deadline) {
    await delay(Math.min(interval, Math.max(1, deadline - now())));
    interval = Math.min(25, Math.ceil(interval * 1.5));
    let read: RedisRead;
    try {
      read = await peek();
    } catch {
      return { reason: 'unavailable' };
    }
    if (read.json !== undefined) return { json: read.json };
    if (read.lock === 'none') return { reason: 'gone' };
  }
  return { reason: 'waited' };
}
