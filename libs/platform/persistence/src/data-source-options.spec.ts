import path from 'node:path';
import { ConfigError } from '@fabric/platform-config';
import { dataSourceOptionsFromUrl, describeDatabaseTarget, parseDatabaseUrl } from './data-source-options';

class Thing {}
class CreateThings1700000000000 {}
const schema = { entities: [Thing], migrations: [CreateThings1700000000000] };

describe('parseDatabaseUrl', () => {
  it('reads a postgres:// URL as PostgreSQL', () => {
    expect(parseDatabaseUrl('postgres://u:p@db:5432/app')).toEqual({
      kind: 'postgres',
      url: 'postgres://u:p@db:5432/app',
    });
  });

  it('reads a postgresql:// URL as PostgreSQL', () => {
    expect(parseDatabaseUrl('postgresql://db/app')).toEqual({ kind: 'postgres', url: 'postgresql://db/app' });
  });

  it('resolves a relative sqlite: path against the working directory', () => {
    expect(parseDatabaseUrl('sqlite:data/app.sqlite')).toEqual({
      kind: 'sqlite',
      file: path.resolve('data/app.sqlite'),
    });
  });

  it('keeps an absolute sqlite: path, with or without the // of a URL', () => {
    expect(parseDatabaseUrl('sqlite:/var/lib/app.sqlite')).toEqual({ kind: 'sqlite', file: '/var/lib/app.sqlite' });
    expect(parseDatabaseUrl('sqlite:///var/lib/app.sqlite')).toEqual({ kind: 'sqlite', file: '/var/lib/app.sqlite' });
  });

  it('reads a file: path and a file:// URL as SQLite files', () => {
    expect(parseDatabaseUrl('file:./app.db')).toEqual({ kind: 'sqlite', file: path.resolve('app.db') });
    expect(parseDatabaseUrl('file:///tmp/my%20app.db')).toEqual({ kind: 'sqlite', file: '/tmp/my app.db' });
  });

  it('reads a bare path as a SQLite file', () => {
    expect(parseDatabaseUrl('/tmp/app.sqlite')).toEqual({ kind: 'sqlite', file: '/tmp/app.sqlite' });
    expect(parseDatabaseUrl('app.sqlite')).toEqual({ kind: 'sqlite', file: path.resolve('app.sqlite') });
  });

  it('keeps :memory: as an in-memory SQLite database', () => {
    expect(parseDatabaseUrl('sqlite::memory:')).toEqual({ kind: 'sqlite', file: ':memory:' });
  });

  it('rejects another scheme with a configuration error that names it', () => {
    expect(() => parseDatabaseUrl('mysql://db/app')).toThrow(ConfigError);
    expect(() => parseDatabaseUrl('mysql://db/app')).toThrow(/unsupported scheme "mysql:"/);
  });

  it('rejects an empty URL and a scheme without a file', () => {
    expect(() => parseDatabaseUrl('  ')).toThrow(ConfigError);
    expect(() => parseDatabaseUrl('sqlite:')).toThrow(ConfigError);
  });
});

describe('describeDatabaseTarget', () => {
  it('leaves the credentials out of a PostgreSQL URL', () => {
    expect(describeDatabaseTarget(parseDatabaseUrl('postgres://admin:s3cret@db:5432/app?sslmode=require'))).toBe(
      'postgres://db:5432/app',
    );
  });
});

describe('dataSourceOptionsFromUrl', () => {
  it('builds PostgreSQL options that never synchronize the schema', () => {
    expect(dataSourceOptionsFromUrl('postgres://db/app', schema)).toMatchObject({
      type: 'postgres',
      url: 'postgres://db/app',
      entities: [Thing],
      migrations: [CreateThings1700000000000],
      synchronize: false,
      migrationsRun: false,
    });
  });

  it('builds better-sqlite3 options with WAL and a busy timeout', () => {
    expect(dataSourceOptionsFromUrl('sqlite:/tmp/app.sqlite', schema)).toMatchObject({
      type: 'better-sqlite3',
      database: '/tmp/app.sqlite',
      enableWAL: true,
      timeout: 5000,
      synchronize: false,
      migrationsRun: false,
    });
  });

  it('leaves WAL off for an in-memory database, which has no file to share', () => {
    expect(dataSourceOptionsFromUrl(':memory:', schema)).toMatchObject({
      type: 'better-sqlite3',
      database: ':memory:',
      enableWAL: false,
    });
  });
});
