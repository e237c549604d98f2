// The machine's Redis as the benchmarks use it: only to remove the keys a run left behind (the fabric's
// cache lives under `<namespace>:cache:*`); the server itself is never reconfigured or flushed.
import Redis from 'ioredis';

export const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';

/** Deletes every key matching the glob `pattern` with SCAN + DEL (never KEYS); returns how many went. */
export async function removeKeys(pattern, url = REDIS_URL) {
  const redis = new Redis(url, { lazyConnect: true, connectTimeout: 2_000, maxRetriesPerRequest: 1 });
  await redis.connect();
  try {
    let removed = 0;
    let cursor = '0';
    do {
      const [next, keys] = await redis.scan(cursor, 'MATCH', pattern, 'COUNT', 1_000);
      cursor = next;
      if (keys.length > 0) removed += await redis.del(...keys);
    } while (cursor !== '0');
    return removed;
  } finally {
    redis.disconnect();
  }
}
