import cluster from 'node:cluster';
import type { INestApplication } from '@nestjs/common';

/** Start-up failures whose message says all a user needs (no stack): bad config, a dependency not reachable. */
const EXPLAINED_FAILURES = new Set([
  'ConfigError',
  'NatsUnreachableError',
  'JetStreamReplicasError',
  'DatabaseUnavailableError',
]);

/** A cluster worker stops on its primary's SIGTERM only (see `startWithWorkers`). */
const STOP_SIGNALS: NodeJS.Signals[] = cluster.isWorker ? ['SIGTERM'] : ['SIGTERM', 'SIGINT'];

/**
 * On SIGTERM or SIGINT: close the app (each module drains what it holds), then exit 0. A second signal
 * exits at once.
 */
export function exitGracefullyOnSignals(app: INestApplication, signals: NodeJS.Signals[] = STOP_SIGNALS): void {
  let closing = false;
  const onSignal = (signal: NodeJS.Signals) => {
    if (closing) process.exit(1);
    closing = true;
    app.close().then(
      () => process.exit(0),
      (error: unknown) => {
        process.stderr.write(
          `error while stopping on ${signal}: ${error instanceof Error ? error.message : String(error)}\n`,
        );
        process.exit(1);
      },
    );
  };
  for (const signal of signals) process.on(signal, onSignal);
}

/** An app that cannot start says why and exits non-zero; known causes get one line and no stack. */
export function exitOnStartupError(app: string, error: unknown): never {
  if (error instanceof Error && EXPLAINED_FAILURES.has(error.name)) {
    process.stderr.write(`${app}: ${error.message}\n`);
  } else {
    process.stderr.write(
      `${app} failed to start: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`,
    );
  }
  process.exit(1);
}
