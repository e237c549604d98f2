import type Redis from 'ioredis';
import type { Result } from 'ioredis';

/*
 * Each step of the Redis level is one Lua script, so one round trip. Entries are stored as
 * `<space epoch>|<JSON {v, x}>` (x: absolute expiry); an entry whose epoch is not the space's current one
 * counts as absent (the epoch is bumped when a space's pending invalidations could not all be kept).
 * Generation keys read as '0' when absent.
 */

/**
 * KEYS: entry, lock, epoch, generation of each guard. ARGV: lock token, lock TTL ms, '1' to take the lock
 * when the entry is absent. Returns [entry or nil, lock (0 none, 1 taken now, 2 held by another), epoch, generations…].
 */
const READ = `
local entry = redis.call('GET', KEYS[1])
local gens = {}
for i = 3, #KEYS do gens[#gens + 1] = redis.call('GET', KEYS[i]) or '0' end
if entry then
  local sep = string.find(entry, '|', 1, true)
  if not sep or string.sub(entry, 1, sep - 1) ~= gens[1] then entry = false end
end
local lock = 0
if not entry then
  if ARGV[3] == '1' then
    if redis.call('SET', KEYS[2], ARGV[1], 'NX', 'PX', ARGV[2]) then lock = 1 else lock = 2 end
  elseif redis.call('EXISTS', KEYS[2]) == 1 then
    lock = 2
  end
end
return {entry, lock, unpack(gens)}
`;

/**
 * KEYS: entry, lock, epoch, generation of each guard (n in all, epoch included), tag set of each tag.
 * ARGV: JSON, TTL ms, lock token ('' for none), n, '1' to check the generations, expected generations….
 * Stores only if every generation is still the one read before the load; releases the lock when it is ours.
 */
const STORE = `
local n = tonumber(ARGV[4])
local current = true
if ARGV[5] == '1' then
  for i = 1, n do
    if (redis.call('GET', KEYS[2 + i]) or '0') ~= ARGV[5 + i] then current = false break end
  end
end
if current then
  local ttl = tonumber(ARGV[2])
  redis.call('SET', KEYS[1], (redis.call('GET', KEYS[3]) or '0') .. '|' .. ARGV[1], 'PX', ttl)
  for i = 3 + n, #KEYS do
    redis.call('SADD', KEYS[i], KEYS[1])
    if redis.call('PTTL', KEYS[i]) < ttl then redis.call('PEXPIRE', KEYS[i], ttl) end
  end
end
if ARGV[3] ~= '' and redis.call('GET', KEYS[2]) == ARGV[3] then redis.call('DEL', KEYS[2]) end
if current then return 1 end
return 0
`;

/** KEYS: lock. ARGV: token. Deletes the lock only when it is still ours. */
const RELEASE = `
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
`;

/**
 * KEYS: epoch, then (generation, tag set) per tag, then (generation, entry) per key. ARGV: '1' to bump the
 * epoch, number of tags, generation TTL ms. Bumps each generation, deletes the members of each tag set, the
 * set and the keys' entries.
 */
const INVALIDATE = `
if ARGV[1] == '1' then redis.call('INCR', KEYS[1]) end
local tags = tonumber(ARGV[2])
local i = 2
for t = 1, tags do
  redis.call('INCR', KEYS[i])
  redis.call('PEXPIRE', KEYS[i], ARGV[3])
  local members = redis.call('SMEMBERS', KEYS[i + 1])
  for j = 1, #members, 1000 do redis.call('DEL', unpack(members, j, math.min(j + 999, #members))) end
  redis.call('DEL', KEYS[i + 1])
  i = i + 2
end
while i < #KEYS do
  redis.call('INCR', KEYS[i])
  redis.call('PEXPIRE', KEYS[i], ARGV[3])
  redis.call('DEL', KEYS[i + 1])
  i = i + 2
end
return 1
`;

type Arg = string | number;

declare module 'ioredis' {
  interface RedisCommander<Context> {
    fabricCacheRead(numKeys: number, ...args: Arg[]): Result<(string | number | null)[], Context>;
    fabricCacheStore(numKeys: number, ...args: Arg[]): Result<number, Context>;
    fabricCacheRelease(numKeys: number, ...args: Arg[]): Result<number, Context>;
    fabricCacheInvalidate(numKeys: number, ...args: Arg[]): Result<number, Context>;
  }
}

/** Defines the scripts on a connection (ioredis runs them by SHA, loading them on first use). */
export function defineCacheScripts(redis: Redis): void {
  redis.defineCommand('fabricCacheRead', { lua: READ });
  redis.defineCommand('fabricCacheStore', { lua: STORE });
  redis.defineCommand('fabricCacheRelease', { lua: RELEASE });
  redis.defineCommand('fabricCacheInvalidate', { lua: INVALIDATE });
}
