import { z } from 'zod';
import { AUDIT_STREAM_DEFAULTS } from '@fabric/contracts';
import { baseEnvSchema, intEnv } from '@fabric/platform-config';

export const AUDIT_ENV = Symbol('AUDIT_ENV');

/**
 * Environment of the audit service beyond the kit's (see the README's configuration table). The stream limits
 * must match the gateways' (both open the stream; the last to start sets them).
 */
export const auditEnvSchema = baseEnvSchema.extend({
  /** Gateway batches (messages of up to 500 events) stored per transaction at most. */
  AUDIT_BATCH_SIZE: intEnv(20, 1, 1_000),
  /** An event taken but not acknowledged within this time (the replica died mid-batch) is delivered again. */
  AUDIT_ACK_WAIT_MS: intEnv(30_000, 1_000),
  /** Rows older than this many days are deleted (hourly, and at start). */
  AUDIT_RETENTION_DAYS: intEnv(30, 1),
  AUDIT_STREAM_MAX_AGE_MS: intEnv(AUDIT_STREAM_DEFAULTS.maxAgeMs, 60_000),
  AUDIT_STREAM_MAX_BYTES: intEnv(AUDIT_STREAM_DEFAULTS.maxBytes, 4_096),
  AUDIT_STREAM_MAX_MESSAGES: intEnv(0, 0),
});
export type AuditEnv = z.infer<typeof auditEnvSchema>;
