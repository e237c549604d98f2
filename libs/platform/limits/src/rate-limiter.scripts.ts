import type Redis from 'ioredis';
import type { Result } from 'ioredis';

/*
 * Each decision is one Lua script, so it is atomic across every replica sharing the Redis: no two callers
 * can both take the last call of a window, and a call refused by one window is counted in none.
 */

/**
 * KEYS: the window of each check. ARGV: (limit, window ms) per check. Returns {0, 0} when the call was
 * counted in every window, else {index of the first full window (1-based), ms until it ends}.
 */
const CONSUME = `
for i = 1, #KEYS do
  local used = tonumber(redis.call('GET', KEYS[i]) or '0')
  if used >= tonumber(ARGV[2 * i - 1]) then
    local ttl = redis.call('PTTL', KEYS[i])
    if ttl < 0 then ttl = tonumber(ARGV[2 * i]) end
    return {i, ttl}
  end
end
for i = 1, #KEYS do
  if redis.call('INCR', KEYS[i]) == 1 or redis.call('PTTL', KEYS[i]) < 0 then
    redis.call('PEXPIRE', KEYS[i], ARGV[2 * i])
  end
end
return {0, 0}
`;

/*
 * Open sessions: a sorted set per owner, scored by each session's expiry on Redis's clock (one clock for the
 * whole fleet), pruned on every admission.
 */

/**
 * KEYS: the owner's set. ARGV: session id, TTL ms, max open (0: no bound). Returns 0 when admitted (or
 * already open), else the ms until the earliest open session expires.
 */
const ADMIT = `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local ttl = tonumber(ARGV[2])
local max = tonumber(ARGV[3])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
if max > 0 and not redis.call('ZSCORE', KEYS[1], ARGV[1]) and redis.call('ZCARD', KEYS[1]) >= max then
  local first = redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')
  return math.max(1, tonumber(first[2]) - now)
end
redis.call('ZADD', KEYS[1], now + ttl, ARGV[1])
redis.call('PEXPIRE', KEYS[1], ttl)
return 0
`;

/** KEYS: the owner's set. ARGV: session id, TTL ms. Restarts the expiry of a session still in the set. */
const TOUCH = `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
if redis.call('ZADD', KEYS[1], 'XX', 'CH', now + tonumber(ARGV[2]), ARGV[1]) == 1 then
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
end
return 0
`;

type Arg = string | number;

declare module 'ioredis' {
  interface RedisCommander<Context> {
    fabricLimitsConsume(numKeys: number, ...args: Arg[]): Result<[number, number], Context>;
    fabricLimitsAdmit(numKeys: number, ...args: Arg[]): Result<number, Context>;
    fabricLimitsTouch(numKeys: number, ...args: Arg[]): Result<number, Context>;
  }
}

/** Defines the scripts on a connection (ioredis runs them by SHA, loading them on first use). */
export function defineLimiterScripts(redis: Redis): void {
  redis.defineCommand('fabricLimitsConsume', { lua: CONSUME });
  redis.defineCommand('fabricLimitsAdmit', { lua: ADMIT });
  redis.defineCommand('fabricLimitsTouch', { lua: TOUCH });
}
