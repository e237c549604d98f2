// Test support, outside the lib's public surface: import from `@fabric/platform-cache/testing` in specs only.
export { RedisServerProcess } from './redis-server';
