import { z } from 'zod';
import { ServiceManifestSchema } from './manifest.schemas';

/** An instance saying it is alive and what it offers; sent at start, on every heartbeat and on `hello`. */
export const AnnouncementSchema = z.object({
  instanceId: z.string().min(1),
  manifest: ServiceManifestSchema,
  /** Interval of this instance's heartbeat; the gateway drops it after a few missed beats. */
  heartbeatMs: z.number().int().positive(),
  /**
   * `draining`: alive and finishing its calls, but takes no new ones. `unready`: alive, but a dependency it
   * needs (its database…) fails its readiness check, so it takes no calls until that recovers.
   */
  state: z.enum(['ready', 'draining', 'unready']).default('ready'),
  /** Calls and tasks the instance runs now (absent from instances of kits before it was added). */
  inFlight: z.number().int().nonnegative().optional(),
  sentAt: z.number().int(),
});
export type Announcement = z.infer<typeof AnnouncementSchema>;

/** An instance leaving the catalog at once (drain or stop). */
export const GoodbyeSchema = z.object({
  instanceId: z.string().min(1),
  service: z.string().min(1),
});
export type Goodbye = z.infer<typeof GoodbyeSchema>;

/** A gateway's request for announcements; every live instance answers with its `Announcement`. */
export const HelloSchema = z.object({
  gatewayId: z.string().min(1),
});
export type Hello = z.infer<typeof HelloSchema>;
