export { UNAVAILABLE_RETRY_MS } from './rate-limiter';
export type { FailMode, LimitCheck, LimitDecision, LimiterLogger, RateLimiter, SessionAdmission } from './rate-limiter';
export { RedisRateLimiter, LimiterUnavailableError } from './redis.rate-limiter';
export type { RedisRateLimiterOptions } from './redis.rate-limiter';
export { MemoryRateLimiter } from './memory.rate-limiter';
