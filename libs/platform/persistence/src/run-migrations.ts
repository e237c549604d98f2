import type { DataSource, Migration } from 'typeorm';
import { withSqliteLock } from './sqlite.lock';
import { isSqlite } from './transaction';
import { backoff, isTransientDatabaseError } from './transient-errors';

/** Key of the PostgreSQL advisory lock held while migrations run ("fabric" in ASCII). */
const MIGRATION_LOCK_KEY = '112568449526115';
const SQLITE_ATTEMPTS = 5;

/**
 * Applies the pending migrations in one transaction and returns those it applied. Safe when several
 * replicas start at once: PostgreSQL replicas take turns under an advisory lock, so the later ones find
 * nothing left to do; SQLite replicas in other processes retry with jitter when they collide.
 */
export async function runMigrations(dataSource: DataSource): Promise<Migration[]> {
  const migrate = () => dataSource.runMigrations({ transaction: 'all' });
  if (dataSource.options.type === 'postgres') return withAdvisoryLock(dataSource, migrate);
  if (isSqlite(dataSource)) return withSqliteLock(dataSource, () => retryOnCollision(migrate));
  return migrate();
}

async function withAdvisoryLock<T>(dataSource: DataSource, work: () => Promise<T>): Promise<T> {
  // The lock belongs to this session: a dedicated connection holds it while the migrations run on another.
  const runner = dataSource.createQueryRunner();
  await runner.connect();
  try {
    await runner.query('SELECT pg_advisory_lock($1::bigint)', [MIGRATION_LOCK_KEY]);
    try {
      return await work();
    } finally {
      await runner.query('SELECT pg_advisory_unlock($1::bigint)', [MIGRATION_LOCK_KEY]);
    }
  } finally {
    await runner.release();
  }
}

// Another process migrating the same file at the same moment shows up as SQLITE_BUSY, or as "table …
// already exists" when both saw the same migration pending; the next attempt finds it applied.
async function retryOnCollision<T>(work: () => Promise<T>): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await work();
    } catch (error) {
      const collided =
        isTransientDatabaseError(error) || (error instanceof Error && /already exists/i.test(error.message));
      if (attempt >= SQLITE_ATTEMPTS || !collided) throw error;
      await backoff(attempt);
    }
  }
}
