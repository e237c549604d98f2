import { z } from 'zod';

/** Any space: a member holding entries of every service (a gateway). */
export const ALL_CACHE_SPACES = '*';

/**
 * Entries to drop, published by the process that invalidated them (after a write) to every process that
 * holds a cache of the space (`cacheInvalidate(space)`). Sent as a request: each member answers with a
 * `CacheInvalidationAck` once its in-process entries are gone, and the sender waits for every known member.
 */
export const CacheInvalidationSchema = z.object({
  /** Unique id of this invalidation. */
  id: z.string().min(1),
  /** The cache space: a service name. */
  space: z.string().min(1),
  tags: z.array(z.string()).default([]),
  keys: z.array(z.string()).default([]),
  /** Member id of the sender. */
  origin: z.string().min(1),
  /** Epoch milliseconds when it was sent: a member that hears it late knows it may have missed its chance. */
  sentAt: z.number().int(),
});
export type CacheInvalidation = z.infer<typeof CacheInvalidationSchema>;

export const CacheInvalidationAckSchema = z.object({ member: z.string().min(1) });
export type CacheInvalidationAck = z.infer<typeof CacheInvalidationAckSchema>;

/** A process holding an in-process cache, announced on `cacheMembers` at start and on a heartbeat. */
export const CacheMemberSchema = z.object({
  member: z.string().min(1),
  /** Spaces it holds entries of (`*`: every space). */
  spaces: z.array(z.string().min(1)).min(1),
  heartbeatMs: z.number().int().positive(),
  /** True on the last announcement of a member that stops. */
  leaving: z.boolean().optional(),
  sentAt: z.number().int(),
});
export type CacheMember = z.infer<typeof CacheMemberSchema>;
