import { boolEnv, intEnv } from '@fabric/platform-config';
import { z } from 'zod';

/** The cache's environment variables, spread by each app into its own env schema. */
export const cacheEnvShape = {
  /** Absent: the in-process level only. */
  REDIS_URL: z.string().optional(),
  /** False: apps ignore declared cache policies (the lib itself does not read it). */
  CACHE_ENABLED: boolEnv(true),
  CACHE_MAX_ENTRIES: intEnv(10_000, 1),
  CACHE_MAX_BYTES: intEnv(64 * 1024 * 1024, 1024),
  /** TTLs are shortened by up to this percentage at random (never lengthened), so entries do not expire together. */
  CACHE_TTL_JITTER_PERCENT: intEnv(10, 0, 50),
  /** Deadline of each Redis command: a slow Redis costs at most this per step. */
  CACHE_REDIS_TIMEOUT_MS: intEnv(50, 1),
  /** Lifetime of a single-flight lock in Redis (a dead holder blocks the others at most this long). */
  CACHE_LOCK_TTL_MS: intEnv(5_000, 10),
  /** How long a replica waits for another's load before loading itself. */
  CACHE_LOCK_WAIT_MS: intEnv(2_000, 0),
  /** How long `invalidate()` waits for the acks of every member holding the space. */
  CACHE_INVALIDATION_TIMEOUT_MS: intEnv(1_000, 1),
  /** Member presence heartbeat on the bus. */
  CACHE_HEARTBEAT_MS: intEnv(2_000, 100),
};

export type CacheEnv = z.infer<z.ZodObject<typeof cacheEnvShape>>;

/** What a `Cache` is built from (`Cache.fromEnv` fills it from `CacheEnv`). */
export interface CacheOptions {
  /** Prefix of every Redis key: `<namespace>:cache`. */
  prefix: string;
  redisUrl?: string;
  maxEntries: number;
  maxBytes: number;
  ttlJitterPercent: number;
  redisTimeoutMs: number;
  lockTtlMs: number;
  lockWaitMs: number;
}

/** The options of a `Cache` from its environment variables. */
export function cacheOptionsFromEnv(env: CacheEnv & { FABRIC_NAMESPACE: string }): CacheOptions {
  return {
    prefix: `${env.FABRIC_NAMESPACE}:cache`,
    redisUrl: env.REDIS_URL || undefined,
    maxEntries: env.CACHE_MAX_ENTRIES,
    maxBytes: env.CACHE_MAX_BYTES,
    ttlJitterPercent: env.CACHE_TTL_JITTER_PERCENT,
    redisTimeoutMs: env.CACHE_REDIS_TIMEOUT_MS,
    lockTtlMs: env.CACHE_LOCK_TTL_MS,
    lockWaitMs: env.CACHE_LOCK_WAIT_MS,
  };
}

/** A URL fit for a log line: the password replaced. */
export function redactUrl(url: string): string {
  try {
    const parsed = new URL(url);
    if (parsed.password) parsed.password = '***';
    return parsed.toString();
  } catch {
    return '(unparsable URL)';
  }
}
