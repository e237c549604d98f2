import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { DataSourceOptions } from 'typeorm';
import { ConfigError } from '@fabric/platform-config';

/** What an app persists: its entity classes and its hand-written migration classes. */
export interface PersistenceSchema {
  entities: NonNullable<DataSourceOptions['entities']>;
  migrations: NonNullable<DataSourceOptions['migrations']>;
  /**
   * Table recording the applied migrations (default `migrations`): apps sharing one database need one
   * each, or each would see the other's migrations as its own.
   */
  migrationsTableName?: string;
}

/** The database a `DATABASE_URL` names. */
export type DatabaseTarget = { kind: 'postgres'; url: string } | { kind: 'sqlite'; file: string };

/** Milliseconds a SQLite statement waits for another process's write lock before failing with SQLITE_BUSY. */
export const SQLITE_BUSY_TIMEOUT_MS = 5_000;
const POSTGRES_CONNECT_TIMEOUT_MS = 5_000;
const SQLITE_MEMORY = ':memory:';

/** Reads a `DATABASE_URL`: `postgres://`/`postgresql://`, `sqlite:<path>`, `file:<path>` or a bare path. */
export function parseDatabaseUrl(url: string): DatabaseTarget {
  const value = url.trim();
  if (value === '') throw new ConfigError('DATABASE_URL is empty', ['DATABASE_URL: empty']);
  if (/^postgres(ql)?:\/\//i.test(value)) return { kind: 'postgres', url: value };
  if (/^file:\/\//i.test(value)) return { kind: 'sqlite', file: sqliteFile(fileUrlToPath(value)) };
  const prefixed = /^(sqlite|file):(.*)$/is.exec(value);
  if (prefixed) return { kind: 'sqlite', file: sqliteFile(prefixed[2].replace(/^\/\/(?=.)/, '')) };
  // Any other scheme is a mistake (mysql://, redis://…), not a file name; a Windows drive letter is a path.
  const scheme = /^([a-z][a-z0-9+.-]+):/i.exec(value);
  if (scheme) {
    const message = `DATABASE_URL has an unsupported scheme "${scheme[1]}:" (use postgres://, postgresql://, sqlite:<path>, file:<path> or a path)`;
    throw new ConfigError(message, [`DATABASE_URL: ${message}`]);
  }
  return { kind: 'sqlite', file: sqliteFile(value) };
}

/** Where a target is, for messages: never the credentials. */
export function describeDatabaseTarget(target: DatabaseTarget): string {
  if (target.kind === 'sqlite') return target.file;
  try {
    const { protocol, host, pathname } = new URL(target.url);
    return `${protocol}//${host}${pathname}`;
  } catch {
    return 'postgres (unparsable URL)';
  }
}

/** TypeORM options for a `DATABASE_URL`. Schema changes come from migrations only (never `synchronize`). */
export function dataSourceOptionsFromUrl(url: string, schema: PersistenceSchema): DataSourceOptions {
  const target = parseDatabaseUrl(url);
  const common = {
    entities: schema.entities,
    migrations: schema.migrations,
    ...(schema.migrationsTableName ? { migrationsTableName: schema.migrationsTableName } : {}),
    synchronize: false,
    migrationsRun: false,
    logging: false,
  } as const;
  if (target.kind === 'postgres') {
    return { type: 'postgres', url: target.url, connectTimeoutMS: POSTGRES_CONNECT_TIMEOUT_MS, ...common };
  }
  // WAL lets readers in other processes run while one process writes; the busy timeout makes a
  // writer wait for another process's write lock instead of failing at once.
  return {
    type: 'better-sqlite3',
    database: target.file,
    enableWAL: target.file !== SQLITE_MEMORY,
    timeout: SQLITE_BUSY_TIMEOUT_MS,
    ...common,
  };
}

function sqliteFile(file: string): string {
  if (file === '')
    throw new ConfigError('DATABASE_URL names no SQLite file', ['DATABASE_URL: no file after the scheme']);
  return file === SQLITE_MEMORY ? file : path.resolve(file);
}

function fileUrlToPath(url: string): string {
  try {
    return fileURLToPath(url);
  } catch (error) {
    const message = `DATABASE_URL is not a valid file URL: ${error instanceof Error ? error.message : String(error)}`;
    throw new ConfigError(message, [`DATABASE_URL: ${message}`]);
  }
}
