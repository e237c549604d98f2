import type { DataSource } from 'typeorm';

// better-sqlite3 is synchronous and TypeORM shares one connection per DataSource. Two transactions of
// one process on one file must therefore never overlap: on one DataSource they would nest (the second
// BEGIN becomes a savepoint of the first), and across two DataSources the waiting one would block the
// event loop for the busy timeout while the lock holder cannot run. Other processes are kept apart
// by SQLite's own locks and the busy timeout.
const queues = new Map<string, Promise<void>>();
const memoryKeys = new WeakMap<DataSource, string>();
let memoryCount = 0;

/** Runs `work` when no other work of this process holds the same SQLite database. */
export async function withSqliteLock<T>(dataSource: DataSource, work: () => Promise<T>): Promise<T> {
  const key = lockKey(dataSource);
  const previous = queues.get(key) ?? Promise.resolve();
  let release!: () => void;
  const held = new Promise<void>((resolve) => (release = resolve));
  const tail = previous.then(() => held);
  queues.set(key, tail);
  await previous;
  try {
    return await work();
  } finally {
    release();
    if (queues.get(key) === tail) queues.delete(key);
  }
}

function lockKey(dataSource: DataSource): string {
  const database = String(dataSource.options.database ?? '');
  if (database !== ':memory:') return database;
  let key = memoryKeys.get(dataSource);
  if (!key) {
    key = `:memory:${++memoryCount}`;
    memoryKeys.set(dataSource, key);
  }
  return key;
}
