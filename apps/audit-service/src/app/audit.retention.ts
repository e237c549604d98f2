import { Inject, Injectable, Logger, type OnApplicationBootstrap, type OnApplicationShutdown } from '@nestjs/common';
import { AUDIT_ENV, type AuditEnv } from './audit.config';
import { AuditRepository } from './audit.repository';

const DAY_MS = 24 * 3_600_000;
/** Between runs of the retention delete. */
const PERIOD_MS = 3_600_000;
/** Rows one run deletes at most, in slices of this size: a large backlog goes over several runs, never one huge statement. */
const SLICE = 5_000;
const SLICES_PER_RUN = 20; // 100,000 rows a run at most

/** Deletes rows older than `AUDIT_RETENTION_DAYS`, at start and every hour, bounded per run. */
@Injectable()
export class AuditRetention implements OnApplicationBootstrap, OnApplicationShutdown {
  private readonly log = new Logger('AuditRetention');
  private timer?: NodeJS.Timeout;
  private running?: Promise<void>;

  constructor(
    @Inject(AuditRepository) private readonly repository: AuditRepository,
    @Inject(AUDIT_ENV) private readonly env: AuditEnv,
  ) {}

  onApplicationBootstrap(): void {
    this.running = this.run();
    this.timer = setInterval(() => {
      this.running ??= this.run();
    }, PERIOD_MS);
    this.timer.unref();
  }

  async onApplicationShutdown(): Promise<void> {
    clearInterval(this.timer);
    await this.running;
  }

  /** One bounded run; returns when done (a failure is logged, the next run tries again). */
  async run(): Promise<void> {
    try {
      const cutoff = new Date(Date.now() - this.env.AUDIT_RETENTION_DAYS * DAY_MS).toISOString();
      let deleted = 0;
      for (let slice = 0; slice < SLICES_PER_RUN; slice++) {
        const removed = await this.repository.deleteOlderThan(cutoff, SLICE);
        deleted += removed;
        if (removed < SLICE) break;
      }
      if (deleted > 0) this.log.log(`deleted ${deleted} audit rows older than ${cutoff}`);
    } catch (error) {
      this.log.warn({ err: error }, 'the audit retention delete failed; it runs again within the hour');
    } finally {
      this.running = undefined;
    }
  }
}
