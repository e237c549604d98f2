import { z } from 'zod';
import { baseEnvSchema, intEnv } from '@fabric/platform-config';
import { cacheEnvShape } from '@fabric/platform-cache';

/** Injection token of the validated service environment. */
export const SERVICE_ENV = Symbol('SERVICE_ENV');

/** Environment of every service built with the kit. */
export const serviceEnvSchema = baseEnvSchema.extend({
  ...cacheEnvShape,
  /** Interval of the announcement heartbeat; the gateway drops an instance after three missed beats. */
  HEARTBEAT_MS: intEnv(2_000, 100),
  /**
   * Pause between rounds of readiness checks (database, NATS…). They run apart from the heartbeat, which
   * announces what the latest round found: a hanging check cannot delay an announcement.
   */
  READINESS_INTERVAL_MS: intEnv(2_000, 100),
  /** A readiness check that takes longer counts as failing: the replica leaves the queue group until one passes. */
  READINESS_TIMEOUT_MS: intEnv(2_000, 1),
  /**
   * Calls one replica runs at once; more are refused at once (not started, so the gateway sends them to
   * another replica) instead of queueing behind a slow handler.
   */
  MAX_CONCURRENT_CALLS: intEnv(128, 1),
  /**
   * How long the outcome of a call that must not run twice is kept (JetStream KV, shared by all replicas):
   * a repeat of the call within this time gets the outcome instead of a second run. Above the longest
   * time a load balancer or client may take to re-send a request.
   */
  IDEMPOTENCY_TTL_MS: intEnv(5 * 60_000, 1_000),
  /**
   * Runs of a task at most: the first, and the runs again after a replica died working it. A task whose
   * replica dies on its last run fails ("started N times and each time the replica running it stopped").
   */
  TASK_MAX_ATTEMPTS: intEnv(3, 1),
  /**
   * A task's work taken by a replica that has not reported on it (every third of this time while it runs)
   * for this long is given to another: the time a crashed replica's tasks wait before they restart.
   */
  TASK_ACK_WAIT_MS: intEnv(15_000, 300),
  /** Tasks one replica works at once; it takes no more work from the queue until one finishes. */
  MAX_CONCURRENT_TASKS: intEnv(8, 1),
  /** Readable start of this replica's id (the service name when absent); a nonce of the process follows it. */
  INSTANCE_ID: z.string().min(1).optional(),
  /** Set by the primary for each of its workers (`WORKERS` > 1): the worker's slot, kept by its replacements. */
  WORKER_INDEX: z.coerce.number().int().min(0).optional(),
});
export type ServiceEnv = z.infer<typeof serviceEnvSchema>;
