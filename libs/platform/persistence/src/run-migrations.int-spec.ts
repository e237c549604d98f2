import { mkdtemp, rm, stat } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { DataSource, type MigrationInterface, type QueryRunner } from 'typeorm';
import { dataSourceOptionsFromUrl } from './data-source-options';
import { runMigrations } from './run-migrations';
import { createScratchDatabase } from './scratch-database';

class CreateNotes1700000000001 implements MigrationInterface {
  async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query('CREATE TABLE note (id INTEGER PRIMARY KEY, body TEXT NOT NULL)');
  }
  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query('DROP TABLE note');
  }
}

class IndexNoteBodies1700000000002 implements MigrationInterface {
  async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query('CREATE INDEX ix_note_body ON note (body)');
  }
  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query('DROP INDEX ix_note_body');
  }
}

const migrations = [CreateNotes1700000000001, IndexNoteBodies1700000000002];
const migrationNames = migrations.map((migration) => migration.name).sort();

async function openReplicas(url: string): Promise<DataSource[]> {
  return Promise.all(
    [0, 1].map(() => new DataSource(dataSourceOptionsFromUrl(url, { entities: [], migrations })).initialize()),
  );
}

async function expectMigratedOnce(replicas: DataSource[]): Promise<void> {
  const applied = await Promise.all(replicas.map((replica) => runMigrations(replica)));
  expect(
    applied
      .flat()
      .map((migration) => migration.name)
      .sort(),
  ).toEqual(migrationNames);
  for (const replica of replicas) {
    expect(await replica.showMigrations()).toBe(false);
    expect(await replica.query('SELECT COUNT(*) AS n FROM note')).toEqual([{ n: expect.anything() }]);
  }
}

describe('runMigrations', () => {
  jest.setTimeout(30_000);

  it('applies each migration once when two replicas migrate one PostgreSQL database at the same time', async () => {
    const database = await createScratchDatabase('persistence_test');
    const replicas = await openReplicas(database.url).catch(async (error) => {
      await database.drop();
      throw error;
    });
    try {
      await expectMigratedOnce(replicas);
    } finally {
      await Promise.all(replicas.map((replica) => replica.destroy()));
      await database.drop();
    }
  });

  it('applies each migration once when two replicas migrate one SQLite file at the same time', async () => {
    const dir = await mkdtemp(path.join(os.tmpdir(), 'persistence-test-'));
    const replicas = await openReplicas(`sqlite:${dir}/nested/app.sqlite`);
    try {
      await expectMigratedOnce(replicas);
    } finally {
      await Promise.all(replicas.map((replica) => replica.destroy()));
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('creates the parent directory of a new SQLite file', async () => {
    const dir = await mkdtemp(path.join(os.tmpdir(), 'persistence-test-'));
    const file = path.join(dir, 'a', 'b', 'app.sqlite');
    const dataSource = await new DataSource(
      dataSourceOptionsFromUrl(`sqlite:${file}`, { entities: [], migrations }),
    ).initialize();
    try {
      expect((await stat(file)).isFile()).toBe(true);
    } finally {
      await dataSource.destroy();
      await rm(dir, { recursive: true, force: true });
    }
  });
});
