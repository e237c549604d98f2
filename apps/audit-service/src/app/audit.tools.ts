import { Inject, Injectable } from '@nestjs/common';
import { z } from 'zod';
import { AUDITED_OPERATIONS, InvalidArgumentError, type ResourceResult, type ToolResult } from '@fabric/contracts';
import { McpResource, McpTool } from '@fabric/service-kit';
import type { AuditEventRecord } from './audit-event.entity';
import { AuditRepository, type AuditPosition } from './audit.repository';

/** The scope a caller needs to read the trail (the gateway's authorize stage enforces it). */
export const AUDIT_READ = 'audit:read';
const STATS_URI = 'audit://stats/tools';

const isoTime = z.iso.datetime({ offset: true });

const QuerySchema = z.object({
  principal: z.string().optional().describe('Principal subject'),
  target: z.string().optional().describe('Tool or prompt (public name), resource URI or task id'),
  outcome: z.enum(['ok', 'tool_error', 'refused', 'error']).optional(),
  operation: z.enum(AUDITED_OPERATIONS).optional(),
  since: isoTime.optional().describe('ISO 8601, inclusive'),
  until: isoTime.optional().describe('ISO 8601, exclusive'),
  limit: z.number().int().min(1).max(100).default(50),
  cursor: z.string().max(200).optional().describe('nextCursor of the previous page'),
});
type Query = z.infer<typeof QuerySchema>;

/** A page's position as an opaque cursor (base64url of the last row's time and id). */
function cursorOf(row: AuditEventRecord): string {
  return Buffer.from(JSON.stringify([row.time, row.id])).toString('base64url');
}

function positionOf(cursor: string): AuditPosition {
  try {
    const [time, id] = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8')) as unknown[];
    if (typeof time === 'string' && typeof id === 'string') return { time, id };
  } catch {
    // reported below
  }
  throw new InvalidArgumentError('cursor is not a cursor this tool returned');
}

/** A row as the client sees it: the event's fields, without empty ones. */
function eventOf(row: AuditEventRecord): Record<string, unknown> {
  const event: Record<string, unknown> = {
    id: row.id,
    time: row.time,
    operation: row.operation,
    outcome: row.outcome,
    cached: Boolean(row.cached),
    durationMs: row.durationMs,
    gateway: row.gateway,
  };
  if (row.principalSubject !== null) {
    event['principal'] = {
      subject: row.principalSubject,
      ...(row.principalIssuer !== null ? { issuer: row.principalIssuer } : {}),
      ...(row.principalClient !== null ? { clientId: row.principalClient } : {}),
    };
  }
  const optional: [string, unknown][] = [
    ['session', row.session],
    ['service', row.service],
    ['target', row.target],
    ['argumentsHash', row.argumentsHash],
    ['argumentsBytes', row.argumentsBytes],
    ['arguments', row.argumentsJson === null ? null : JSON.parse(row.argumentsJson)],
    ['errorCode', row.errorCode],
    ['serviceInstance', row.serviceInstance],
    ['traceId', row.traceId],
  ];
  for (const [key, value] of optional) if (value !== null && value !== undefined) event[key] = value;
  return event;
}

/** The audit trail over MCP: a query tool and per-tool statistics, both for holders of `audit:read` only. */
@Injectable()
export class AuditTools {
  constructor(@Inject(AuditRepository) private readonly repository: AuditRepository) {}

  @McpTool({
    name: 'query',
    title: 'Query the audit trail',
    description:
      'Audit events (tools/call, resources/read, prompts/get, tasks), newest first, filtered by principal, ' +
      'target (tool, URI or task id), outcome, operation and time range. Pass nextCursor back as cursor for the next page.',
    input: QuerySchema,
    annotations: { readOnlyHint: true, idempotentHint: true, destructiveHint: false, openWorldHint: false },
    scopes: [AUDIT_READ],
  })
  async query(args: Query): Promise<ToolResult> {
    const { limit, cursor, ...filter } = args;
    const rows = await this.repository.query(filter, limit + 1, cursor ? positionOf(cursor) : undefined);
    const page = rows.slice(0, limit);
    const events = page.map(eventOf);
    const nextCursor = rows.length > limit ? cursorOf(page[page.length - 1]) : undefined;
    const structuredContent = { events, ...(nextCursor ? { nextCursor } : {}) };
    return { content: [{ type: 'text', text: JSON.stringify(structuredContent) }], structuredContent };
  }

  @McpResource({
    uri: STATS_URI,
    name: 'tool-stats',
    title: 'Audit statistics per tool',
    description: 'Per tool, resource and prompt: calls, calls by outcome, cache hits, mean and maximum duration (ms).',
    mimeType: 'application/json',
    scopes: [AUDIT_READ],
  })
  async toolStats(): Promise<ResourceResult> {
    const stats = await this.repository.stats();
    return { contents: [{ uri: STATS_URI, mimeType: 'application/json', text: JSON.stringify({ targets: stats }) }] };
  }
}
