import { randomUUID } from 'node:crypto';
import { FabricError, type WireError } from '@fabric/contracts';

/**
 * The reply-envelope error for anything a handler threw: typed errors pass through with their message;
 * anything else becomes INTERNAL with a reference id, and only the id leaves the process.
 */
export function toWireError(error: unknown, log: (ref: string, error: unknown) => void): WireError {
  if (error instanceof FabricError && error.code !== 'INTERNAL') {
    // Only the kit's own refusals are "not started": a handler may have done work before it threw.
    const { notStarted: _started, ...wire } = error.toWire();
    return wire;
  }
  const ref = randomUUID().slice(0, 8);
  log(ref, error);
  return { code: 'INTERNAL', message: `Internal error in the service (reference ${ref})`, retryable: false, ref };
}
