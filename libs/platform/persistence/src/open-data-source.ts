import { DataSource } from 'typeorm';
import {
  dataSourceOptionsFromUrl,
  describeDatabaseTarget,
  parseDatabaseUrl,
  type PersistenceSchema,
} from './data-source-options';
import { DatabaseUnavailableError } from './persistence.errors';
import { runMigrations } from './run-migrations';

/** Opens the database a `DATABASE_URL` names and applies its pending migrations; fails at once when it cannot. */
export async function openDataSource(url: string, schema: PersistenceSchema): Promise<DataSource> {
  const target = parseDatabaseUrl(url);
  const dataSource = new DataSource(dataSourceOptionsFromUrl(url, schema));
  try {
    await dataSource.initialize();
  } catch (error) {
    throw new DatabaseUnavailableError(describeDatabaseTarget(target), { cause: error });
  }
  try {
    await runMigrations(dataSource);
    return dataSource;
  } catch (error) {
    await dataSource.destroy().catch(() => undefined);
    throw error;
  }
}
