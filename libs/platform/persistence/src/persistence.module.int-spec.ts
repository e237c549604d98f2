import { Global, Module } from '@nestjs/common';
import { Test, type TestingModule } from '@nestjs/testing';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { DataSource, type MigrationInterface, type QueryRunner } from 'typeorm';
import { ReadinessRegistry } from '@fabric/platform-observability';
import { PersistenceModule } from './persistence.module';

class CreateNotes1700000000001 implements MigrationInterface {
  async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query('CREATE TABLE note (id INTEGER PRIMARY KEY, body TEXT NOT NULL)');
  }
  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query('DROP TABLE note');
  }
}

// Stands in for ObservabilityModule, which provides the registry globally in a real app.
@Global()
@Module({ providers: [ReadinessRegistry], exports: [ReadinessRegistry] })
class ReadinessTestModule {}

describe('PersistenceModule', () => {
  let dir: string;
  let app: TestingModule;
  const previousUrl = process.env['DATABASE_URL'];

  beforeEach(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'persistence-module-test-'));
    process.env['DATABASE_URL'] = `sqlite:${dir}/app.sqlite`;
    app = await Test.createTestingModule({
      imports: [
        ReadinessTestModule,
        PersistenceModule.forRoot({
          entities: [],
          migrations: [CreateNotes1700000000001],
          defaultSqliteFile: 'unused.sqlite',
        }),
      ],
    }).compile();
    await app.init();
  });

  afterEach(async () => {
    await app.close();
    if (previousUrl === undefined) delete process.env['DATABASE_URL'];
    else process.env['DATABASE_URL'] = previousUrl;
    await rm(dir, { recursive: true, force: true });
  });

  it('opens the database DATABASE_URL names with its migrations applied', async () => {
    const dataSource = app.get(DataSource);
    expect(dataSource.options.database).toBe(path.join(dir, 'app.sqlite'));
    expect(await dataSource.showMigrations()).toBe(false);
  });

  it('registers a database readiness check that passes while the database is open', async () => {
    const checks = new Map(app.get(ReadinessRegistry).entries());
    await expect(Promise.resolve(checks.get('database')?.())).resolves.toBeUndefined();
  });

  it('closes the database when the app shuts down, which fails the readiness check', async () => {
    const dataSource = app.get(DataSource);
    const check = new Map(app.get(ReadinessRegistry).entries()).get('database');
    await app.close();
    expect(dataSource.isInitialized).toBe(false);
    await expect(Promise.resolve(check?.())).rejects.toThrow();
  });
});
