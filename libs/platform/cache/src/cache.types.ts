/** How one entry is cached: its TTL, tags and the values that are not kept. */
export interface EntryPolicy<T = unknown> {
  ttlMs: number;
  /** Already expanded tags. */
  tags?: readonly string[];
  /** Metric label (a tool name, a resource template); default 'default'. */
  name?: string;
  /** Values it says false to are returned but neither stored nor shared (errors). */
  cacheable?: (value: T) => boolean;
  /** Negative caching: off unless set, for the values `negative` says are negative (stored this long instead). */
  negativeTtlMs?: number;
  negative?: (value: T) => boolean;
}

/** What `/readyz` shows of the cache. */
export interface CacheState {
  redis: 'off' | 'up' | 'down';
  localEntries: number;
  localBytes: number;
  /** Live members heard on the bus (this process excluded), when a bus is connected. */
  members?: number;
  pendingRedisInvalidations: number;
}

/** The logger the cache writes to (a Nest `Logger` or pino fits: `log` or `info` is used for recoveries). */
export interface CacheLogger {
  warn(message: object | string, context?: string): void;
  log?(message: object | string, context?: string): void;
  info?(message: object | string, context?: string): void;
}

/** The cache's hooks into the bus: what a remote invalidation or a lost connection does locally. */
export interface CacheBusListener {
  drop(space: string, tags: readonly string[], keys: readonly string[]): void;
  clearSpace(space: string): void;
  clearAll(): void;
}

/** Writes an informational line with whichever of `log`/`info` the logger has. */
export function logInfo(logger: CacheLogger, message: object | string, context?: string): void {
  if (logger.log) logger.log(message, context);
  else logger.info?.(message, context);
}
