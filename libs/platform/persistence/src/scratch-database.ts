import { randomBytes } from 'node:crypto';
import { DataSource } from 'typeorm';

export interface ScratchDatabase {
  /** Name of the new database. */
  name: string;
  /** URL of the new database: the admin URL with its database name replaced. */
  url: string;
  /** Drops the database, closing any connection still open to it. */
  drop(): Promise<void>;
}

/** Where scratch databases are made when `POSTGRES_ADMIN_URL` is not set: the local server's `postgres` superuser, no password. */
const DEFAULT_POSTGRES_ADMIN_URL = 'postgres://postgres@127.0.0.1:5432/postgres';

/**
 * Creates an empty PostgreSQL database with a unique name, for tests and benchmarks that need a database of
 * their own, on the server `adminUrl` names (a role allowed to create databases), by default `POSTGRES_ADMIN_URL`.
 */
export async function createScratchDatabase(
  prefix = 'scratch',
  adminUrl = process.env['POSTGRES_ADMIN_URL'] ?? DEFAULT_POSTGRES_ADMIN_URL,
): Promise<ScratchDatabase> {
  if (!/^[a-z][a-z0-9_]{0,30}$/.test(prefix)) throw new Error(`Invalid scratch database prefix "${prefix}"`);
  const name = `${prefix}_${Date.now().toString(36)}_${randomBytes(4).toString('hex')}`;
  await asAdmin(adminUrl, (admin) => admin.query(`CREATE DATABASE "${name}"`));
  const url = new URL(adminUrl);
  url.pathname = `/${name}`;
  return {
    name,
    url: url.toString(),
    drop: () => asAdmin(adminUrl, (admin) => admin.query(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`)),
  };
}

async function asAdmin(adminUrl: string, work: (admin: DataSource) => Promise<unknown>): Promise<void> {
  const admin = new DataSource({ type: 'postgres', url: adminUrl, connectTimeoutMS: 5_000, extra: { max: 1 } });
  await admin.initialize();
  try {
    await work(admin);
  } finally {
    await admin.destroy();
  }
}
