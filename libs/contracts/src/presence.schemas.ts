import { z } from 'zod';

/**
 * Upper bounds (milliseconds) of the latency buckets every gateway counts tool calls in; one more bucket
 * holds what is slower than the last bound. Fixed here so that the digests of every replica add up.
 */
export const TOOL_LATENCY_BUCKETS_MS = [
  1, 2, 5, 10, 20, 50, 100, 200, 500, 1_000, 2_000, 5_000, 10_000, 30_000, 60_000,
] as const;

/** One tool's calls on one gateway over its stats window: counts by outcome and latency histogram. */
export const ToolDigestSchema = z.object({
  /** Public tool name. */
  tool: z.string().min(1),
  ok: z.number().int().nonnegative(),
  /** Calls that failed (an `isError` result or a protocol error). */
  errors: z.number().int().nonnegative(),
  /** Calls of a tool with a cache policy answered from the edge cache, and those that asked the service. */
  cacheHits: z.number().int().nonnegative(),
  cacheMisses: z.number().int().nonnegative(),
  /** Calls per bucket of `TOOL_LATENCY_BUCKETS_MS` (one entry more: slower than the last bound). */
  latency: z.array(z.number().int().nonnegative()).length(TOOL_LATENCY_BUCKETS_MS.length + 1),
});
export type ToolDigest = z.infer<typeof ToolDigestSchema>;

/**
 * A gateway replica saying it is alive (on `gatewayPresence`, at start and on a heartbeat), with its tool
 * stats over the last `windowMs`: every replica adds up the fleet's numbers from the others' presence.
 */
export const GatewayPresenceSchema = z.object({
  replica: z.string().min(1),
  version: z.string().min(1),
  /** Host name and process id, for a human reading the admin page. */
  host: z.string(),
  pid: z.number().int(),
  startedAt: z.number().int(),
  heartbeatMs: z.number().int().positive(),
  /** Span the tool digests cover (shorter than the stats window while the replica is young). */
  windowMs: z.number().int().nonnegative(),
  tools: z.array(ToolDigestSchema),
  /** True on the last presence of a replica that stops. */
  leaving: z.boolean().optional(),
  sentAt: z.number().int(),
});
export type GatewayPresence = z.infer<typeof GatewayPresenceSchema>;
