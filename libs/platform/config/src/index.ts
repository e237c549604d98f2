export { ConfigError, loadConfig, intEnv, boolEnv, listEnv, baseEnvSchema } from './config';
export type { BaseEnv } from './config';
