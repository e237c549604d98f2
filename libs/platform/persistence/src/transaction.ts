import type { DataSource, EntityManager } from 'typeorm';
import { withSqliteLock } from './sqlite.lock';
import { backoff, isTransientDatabaseError } from './transient-errors';

export type TransactionIsolation = 'READ COMMITTED' | 'REPEATABLE READ' | 'SERIALIZABLE';

export interface TransactionOptions {
  /** Isolation level on PostgreSQL (its default, READ COMMITTED, when absent); SQLite transactions are serializable. */
  isolation?: TransactionIsolation;
  /** Once aborted (deadline passed, call cancelled), no further attempt starts: its reason is thrown instead. */
  signal?: AbortSignal;
}

const MAX_ATTEMPTS = 8;

/**
 * Runs `work` in one transaction and returns its result. A transaction that fails for a transient reason
 * (deadlock, serialization failure, SQLite busy) is rolled back and run again from the start after a
 * jittered pause, so `work` must only change the database. Any other error rolls back and is rethrown.
 */
export async function withTransaction<T>(
  dataSource: DataSource,
  work: (manager: EntityManager) => Promise<T>,
  options: TransactionOptions = {},
): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    options.signal?.throwIfAborted();
    try {
      return await runOnce(dataSource, work, options);
    } catch (error) {
      if (attempt >= MAX_ATTEMPTS || !isTransientDatabaseError(error)) throw error;
      await backoff(attempt);
    }
  }
}

function runOnce<T>(
  dataSource: DataSource,
  work: (manager: EntityManager) => Promise<T>,
  options: TransactionOptions,
): Promise<T> {
  if (isSqlite(dataSource)) return withSqliteLock(dataSource, () => dataSource.transaction(work));
  return options.isolation ? dataSource.transaction(options.isolation, work) : dataSource.transaction(work);
}

/** True when the DataSource is a SQLite one (better-sqlite3: one writer at a time, one connection per DataSource). */
export function isSqlite(dataSource: DataSource): boolean {
  return dataSource.options.type === 'better-sqlite3';
}
