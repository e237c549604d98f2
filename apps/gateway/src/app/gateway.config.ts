import { z } from 'zod';
import { baseEnvSchema, boolEnv, intEnv, listEnv } from '@fabric/platform-config';

export const GATEWAY_ENV = Symbol('GATEWAY_ENV');

/** Environment of the gateway (see the README's configuration table). */
export const gatewayEnvSchema = baseEnvSchema.extend({
  /** Origins allowed to call `/mcp` from a browser; empty: localhost origins only. `*` allows any. */
  ALLOWED_ORIGINS: listEnv(),
  /** Host header values accepted (DNS-rebinding protection); empty: any host. */
  ALLOWED_HOSTS: listEnv(),
  /** Largest request body accepted, in bytes (413 above it). */
  MAX_BODY_BYTES: intEnv(4 * 1024 * 1024, 1024),
  /** A session unused for this long is forgotten by every replica. */
  SESSION_IDLE_TTL_MS: intEnv(30 * 60_000, 1_000),
  /** Deadline of a call whose tool declares none. */
  TOOL_TIMEOUT_MS: intEnv(30_000, 1),
  /** Items per page of tools/list, resources/list, resources/templates/list and prompts/list. */
  LIST_PAGE_SIZE: intEnv(100, 1),
  /** Prefix tool and prompt names with their service (`knowledge_search_nodes`). */
  TOOL_NAME_PREFIX: boolEnv(true),
  /** How long a starting gateway waits for services to announce themselves before it is ready. */
  DISCOVERY_WAIT_MS: intEnv(1_500, 0),
  /** Extra time on top of a call's deadline for the service's own timeout reply to arrive. */
  DEADLINE_GRACE_MS: intEnv(250, 0),
  /**
   * On SIGTERM, how long the gateway keeps serving while reporting not ready before it closes its port:
   * set it above the load balancer's readiness polling period (Kubernetes: a few seconds).
   */
  DRAIN_DELAY_MS: intEnv(0, 0),
});
export type GatewayEnv = z.infer<typeof gatewayEnvSchema>;
