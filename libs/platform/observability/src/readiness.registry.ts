import { Injectable } from '@nestjs/common';

/** A dependency the app needs to serve traffic; resolves when it is usable, throws (with a reason) when not. */
export type ReadinessCheck = () => Promise<void> | void;

/** Facts shown beside the readiness checks (a cache's state): never make the process unready. */
export type ReadinessDetail = () => object;

/** Named readiness checks, registered by the modules that own each dependency (NATS, database, catalog…). */
@Injectable()
export class ReadinessRegistry {
  private readonly checks = new Map<string, ReadinessCheck>();
  private readonly details = new Map<string, ReadinessDetail>();
  private stopping = false;

  /** Adds or replaces the check called `name`. */
  register(name: string, check: ReadinessCheck): void {
    this.checks.set(name, check);
  }

  /** Adds or replaces the detail called `name`: `/readyz` shows it as an `up` indicator with its object. */
  registerDetail(name: string, detail: ReadinessDetail): void {
    this.details.set(name, detail);
  }

  detailEntries(): [string, ReadinessDetail][] {
    return [...this.details.entries()];
  }

  /** Marks the process as stopping: from now on it reports not ready, so load balancers stop sending work. */
  markStopping(): void {
    this.stopping = true;
  }

  get isStopping(): boolean {
    return this.stopping;
  }

  entries(): [string, ReadinessCheck][] {
    return [...this.checks.entries()];
  }

  /** Runs every check; returns `name: reason` for each that fails or takes longer than `timeoutMs`. */
  async failing(timeoutMs: number): Promise<string[]> {
    const results = await Promise.all(
      this.entries().map(async ([name, check]) => {
        let timer: NodeJS.Timeout | undefined;
        try {
          await Promise.race([
            check(),
            new Promise(
              (_, reject) =>
                (timer = setTimeout(() => reject(new Error(`no answer within ${timeoutMs} ms`)), timeoutMs)),
            ),
          ]);
          return undefined;
        } catch (error) {
          return `${name}: ${error instanceof Error ? error.message : String(error)}`;
        } finally {
          clearTimeout(timer);
        }
      }),
    );
    return results.filter((result): result is string => result !== undefined);
  }
}
