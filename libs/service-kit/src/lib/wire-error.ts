import { randomUUID } from 'node:crypto';
import { FabricError, type WireError } from '@fabric/contracts';

/**
 * The reply-envelope error for anything a handler threw: typed errors pass through with their message;
 * anything else becomes INTERNAL with a reference id, and only the id leaves the process.
 */
export function toWireError(error: unknown, log: (ref: string, error: unknown) => void): WireError {
  if (error instanceof FabricError && error.code !== 'INTERNAL') {
    // Only the kit's own refusals are "not started", and only its own aborts at shutdown "interrupted": the
    // gateway may send such a call elsewhere, and a handler cannot know that it is safe to.
    const { notStarted: _started, interrupted: _interrupted, ...wire } = error.toWire();
    return wire;
  }
  const ref = randomUUID().slice(0, 8);
  log(ref, error);
  return { code: 'INTERNAL', message: `Internal error in the service (reference ${ref})`, retryable: false, ref };
}
