export { Cache } from './cache';
export type { CacheDeps } from './cache';
export type { CacheSpace } from './cache.space';
export { CacheBus } from './cache.bus';
export type { CacheBusOptions } from './cache.bus';
export { cacheEnvShape, cacheOptionsFromEnv } from './cache.config';
export type { CacheEnv, CacheOptions } from './cache.config';
export type { EntryPolicy, CacheState, CacheLogger } from './cache.types';
export { RedisUnavailableError } from './redis.level';
