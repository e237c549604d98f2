import {
  Global,
  Inject,
  Injectable,
  Module,
  type DynamicModule,
  type OnApplicationShutdown,
  type OnModuleInit,
} from '@nestjs/common';
import { DataSource } from 'typeorm';
import { z } from 'zod';
import { loadConfig } from '@fabric/platform-config';
import { ReadinessRegistry } from '@fabric/platform-observability';
import type { PersistenceSchema } from './data-source-options';
import { openDataSource } from './open-data-source';

export interface PersistenceOptions extends PersistenceSchema {
  /** SQLite file (under `data/`) used when `DATABASE_URL` is not set, e.g. `knowledge.sqlite`. */
  defaultSqliteFile: string;
}

const PERSISTENCE_OPTIONS = Symbol('PERSISTENCE_OPTIONS');

/** The `DATABASE_URL` variable, defaulting to a SQLite file so that an app runs on one machine without setup. */
export const persistenceEnvSchema = (defaultSqliteFile: string) =>
  z.object({ DATABASE_URL: z.string().min(1).default(`sqlite:data/${defaultSqliteFile}`) });

/** Reports the database in `/readyz` and closes it last, after every module that uses it has shut down. */
@Injectable()
class DatabaseLifecycle implements OnModuleInit, OnApplicationShutdown {
  constructor(
    @Inject(DataSource) private readonly dataSource: DataSource,
    @Inject(ReadinessRegistry) private readonly readiness: ReadinessRegistry,
  ) {}

  onModuleInit(): void {
    this.readiness.register('database', async () => {
      await this.dataSource.query('SELECT 1');
    });
  }

  async onApplicationShutdown(): Promise<void> {
    if (this.dataSource.isInitialized) await this.dataSource.destroy();
  }
}

/** Provides the process's one TypeORM `DataSource`, opened from `DATABASE_URL` and migrated, to every module. */
@Global()
@Module({})
export class PersistenceModule {
  static forRoot(options: PersistenceOptions): DynamicModule {
    return {
      module: PersistenceModule,
      providers: [
        { provide: PERSISTENCE_OPTIONS, useValue: options },
        {
          provide: DataSource,
          useFactory: (opts: PersistenceOptions) => {
            const { DATABASE_URL } = loadConfig(persistenceEnvSchema(opts.defaultSqliteFile));
            return openDataSource(DATABASE_URL, opts);
          },
          inject: [PERSISTENCE_OPTIONS],
        },
        DatabaseLifecycle,
      ],
      exports: [DataSource],
    };
  }
}
