/** The database named by `DATABASE_URL` could not be opened or migrated when the process started. */
export class DatabaseUnavailableError extends Error {
  constructor(
    /** Where the database is, without credentials (`postgres://host:port/db` or a file path). */
    readonly target: string,
    options?: { cause?: unknown },
  ) {
    const reason = options?.cause instanceof Error ? `: ${options.cause.message}` : '';
    super(
      `Cannot open the database at ${target}${reason}. Start it or point DATABASE_URL at a reachable one.`,
      options,
    );
    this.name = 'DatabaseUnavailableError';
  }
}
