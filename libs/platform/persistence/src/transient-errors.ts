// PostgreSQL: serialization_failure, deadlock_detected. The transaction was rolled back and may succeed if run again.
const POSTGRES_TRANSIENT_CODES = new Set(['40001', '40P01']);

/** True when a database error means "try the same transaction again" rather than "this cannot work". */
export function isTransientDatabaseError(error: unknown): boolean {
  const code = errorCode(error);
  if (!code) return false;
  // SQLite: another process holds the write lock past the busy timeout, or wrote since this transaction's snapshot.
  return POSTGRES_TRANSIENT_CODES.has(code) || code.startsWith('SQLITE_BUSY') || code.startsWith('SQLITE_LOCKED');
}

function errorCode(error: unknown): string | undefined {
  if (typeof error !== 'object' || error === null) return undefined;
  const driverError = (error as { driverError?: unknown }).driverError;
  const source = typeof driverError === 'object' && driverError !== null ? driverError : error;
  const code = (source as { code?: unknown }).code;
  return typeof code === 'string' ? code : undefined;
}

/** Waits a random time that grows with the attempt number, so that competing retries spread out. */
export function backoff(attempt: number): Promise<void> {
  const ms = 20 * 2 ** Math.min(attempt, 6) * (0.5 + Math.random());
  return new Promise((resolve) => setTimeout(resolve, ms));
}
