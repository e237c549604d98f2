import { Inject, Injectable, Logger, type OnApplicationShutdown } from '@nestjs/common';
import type { ServerResponse } from 'node:http';
import { GATEWAY_ENV, type GatewayEnv } from '../../gateway.config';
import { AdminSnapshots } from './admin.snapshot';

/** One SSE event carrying a snapshot. */
function snapshotEvent(snapshot: unknown): string {
  return `event: snapshot\ndata: ${JSON.stringify(snapshot)}\n\n`;
}

/**
 * The admin page's live stream: every viewer gets a snapshot at once, then one every `ADMIN_REFRESH_MS`,
 * built once per tick for all of them. The timer runs only while someone watches.
 */
@Injectable()
export class AdminFeed implements OnApplicationShutdown {
  private readonly log = new Logger('AdminFeed');
  private readonly viewers = new Set<ServerResponse>();
  private timer?: NodeJS.Timeout;
  private ticking = false;

  constructor(
    @Inject(AdminSnapshots) private readonly snapshots: AdminSnapshots,
    @Inject(GATEWAY_ENV) private readonly env: GatewayEnv,
  ) {}

  /** Adds a viewer whose SSE headers are written; it leaves when its response closes. */
  async add(res: ServerResponse): Promise<void> {
    this.viewers.add(res);
    res.once('close', () => {
      this.viewers.delete(res);
      if (this.viewers.size === 0 && this.timer) {
        clearInterval(this.timer);
        this.timer = undefined;
      }
    });
    this.timer ??= setInterval(() => void this.tick(), this.env.ADMIN_REFRESH_MS);
    try {
      write(res, snapshotEvent(await this.snapshots.build()));
    } catch (error) {
      this.log.error({ err: error }, 'cannot build an admin snapshot');
    }
  }

  onApplicationShutdown(): void {
    if (this.timer) clearInterval(this.timer);
    for (const res of this.viewers) res.end();
    this.viewers.clear();
  }

  private async tick(): Promise<void> {
    // A tick that takes longer than the period is not stacked up behind.
    if (this.ticking) return;
    this.ticking = true;
    try {
      const event = snapshotEvent(await this.snapshots.build());
      for (const res of this.viewers) write(res, event);
    } catch (error) {
      this.log.error({ err: error }, 'cannot build an admin snapshot');
    } finally {
      this.ticking = false;
    }
  }
}

function write(res: ServerResponse, text: string): void {
  if (!res.writableEnded && !res.destroyed) res.write(text);
}
