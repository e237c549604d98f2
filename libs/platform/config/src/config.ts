import { z } from 'zod';

/** Raised when the environment does not satisfy an app's configuration schema. */
export class ConfigError extends Error {
  constructor(
    message: string,
    readonly issues: string[],
  ) {
    super(message);
    this.name = 'ConfigError';
  }
}

/** Reads and validates an app's configuration from environment variables, once, at start-up. */
export function loadConfig<S extends z.ZodType>(schema: S, env: NodeJS.ProcessEnv = process.env): z.infer<S> {
  const parsed = schema.safeParse(env);
  if (parsed.success) return parsed.data;
  const issues = parsed.error.issues.map((issue) => `${issue.path.join('.') || '(root)'}: ${issue.message}`);
  throw new ConfigError(`Invalid configuration:\n  ${issues.join('\n  ')}`, issues);
}

/** An integer environment variable with a default, within `[min, max]`. */
export const intEnv = (fallback: number, min = 0, max = Number.MAX_SAFE_INTEGER) =>
  // An empty variable (`PORT=` from a compose file) means "not set", not 0.
  z.preprocess(
    (value) => (typeof value === 'string' && value.trim() === '' ? undefined : value),
    z.coerce.number().int().min(min).max(max).default(fallback),
  );

/** A boolean environment variable: `true/1/yes/on` or `false/0/no/off`. */
export const boolEnv = (fallback: boolean) =>
  z
    .enum(['true', 'false', '1', '0', 'yes', 'no', 'on', 'off'])
    .default(fallback ? 'true' : 'false')
    .transform((value) => ['true', '1', 'yes', 'on'].includes(value));

/** A comma-separated list environment variable. */
export const listEnv = (fallback: string[] = []) =>
  z
    .string()
    .default(fallback.join(','))
    .transform((value) =>
      value
        .split(',')
        .map((item) => item.trim())
        .filter(Boolean),
    );

/** Variables every app reads. */
export const baseEnvSchema = z.object({
  PORT: intEnv(3000),
  NATS_URL: z.string().default('nats://127.0.0.1:4222'),
  /** Prefix of every subject, queue group, KV bucket and stream: isolates fabrics sharing one NATS. */
  FABRIC_NAMESPACE: z
    .string()
    .regex(/^[a-z][a-z0-9_-]{0,31}$/)
    .default('fabric'),
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  /** Milliseconds a stopping process waits for the work it holds before it exits. */
  SHUTDOWN_GRACE_MS: intEnv(10_000),
  /**
   * Replicas of every JetStream stream and KV bucket the fabric creates (JetStream allows 1 to 5); existing
   * ones are brought to it at start-up. 3 on a 3-server cluster survives the loss of one server.
   */
  JETSTREAM_REPLICAS: intEnv(1, 1, 5),
});
export type BaseEnv = z.infer<typeof baseEnvSchema>;
