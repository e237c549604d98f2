import { randomBytes } from 'node:crypto';

/** Injection token of this replica's instance id (one per process, made once at start-up). */
export const INSTANCE_ID = Symbol('INSTANCE_ID');

/**
 * The id of one running replica in the catalog and in the gateway's lost-call probes: a readable base
 * (`INSTANCE_ID`, else the service name), the worker slot under `WORKERS` > 1, and a nonce of this process,
 * so that a worker replacing a crashed one, or two containers started with the same `INSTANCE_ID`, never
 * answer to one id (the gateway would take one for the other and see calls lost or held by the wrong one).
 */
export function instanceIdOf(base: string, workerIndex?: number): string {
  const worker = workerIndex === undefined ? '' : `-w${workerIndex}`;
  return `${base}${worker}-${randomBytes(3).toString('hex')}`;
}
