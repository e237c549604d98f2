import { Inject, Injectable } from '@nestjs/common';
import { DataSource } from 'typeorm';
import type { AuditEvent } from '@fabric/contracts';
import { withTransaction } from '@fabric/platform-persistence';
import { AuditEventRecord } from './audit-event.entity';

/** Rows per multi-row INSERT: far below SQLite's 32766 and PostgreSQL's 65535 bound parameters (19 per row). */
const INSERT_CHUNK = 200;

/** What a query of the trail selects; every field narrows it. */
export interface AuditFilter {
  principal?: string;
  target?: string;
  outcome?: string;
  operation?: string;
  /** ISO 8601, inclusive. */
  since?: string;
  /** ISO 8601, exclusive. */
  until?: string;
}

/** Where a page starts: after this row, in the order newest first. */
export interface AuditPosition {
  time: string;
  id: string;
}

/** Per tool (or resource, prompt): how it went. */
export interface TargetStats {
  target: string;
  operation: string;
  count: number;
  byOutcome: Record<string, number>;
  cached: number;
  avgDurationMs: number;
  maxDurationMs: number;
}

/** The row of an event (times normalised to `toISOString`, so that text order is time order). */
export function toRecord(event: AuditEvent): AuditEventRecord {
  const record = new AuditEventRecord();
  record.id = event.id;
  record.time = new Date(event.time).toISOString();
  record.operation = event.operation;
  record.principalSubject = event.principal?.subject ?? null;
  record.principalIssuer = event.principal?.issuer ?? null;
  record.principalClient = event.principal?.clientId ?? null;
  record.session = event.session ?? null;
  record.service = event.service ?? null;
  record.target = event.target ?? null;
  record.argumentsHash = event.argumentsHash ?? null;
  record.argumentsBytes = event.argumentsBytes ?? null;
  record.argumentsJson = event.arguments === undefined ? null : JSON.stringify(event.arguments);
  record.outcome = event.outcome;
  record.errorCode = event.errorCode ?? null;
  record.cached = event.cached;
  record.durationMs = event.durationMs;
  record.gateway = event.gateway;
  record.serviceInstance = event.serviceInstance ?? null;
  record.traceId = event.traceId ?? null;
  return record;
}

/** The audit_events table: idempotent batch inserts, keyset-paginated queries, statistics, retention. */
@Injectable()
export class AuditRepository {
  constructor(@Inject(DataSource) private readonly dataSource: DataSource) {}

  /**
   * Stores `records` in one transaction; a row whose id is already stored is skipped (a redelivered event),
   * so the table holds exactly one row per event however often it arrives.
   */
  async insert(records: AuditEventRecord[]): Promise<void> {
    if (records.length === 0) return;
    await withTransaction(this.dataSource, async (manager) => {
      for (let start = 0; start < records.length; start += INSERT_CHUNK) {
        await manager
          .createQueryBuilder()
          .insert()
          .into(AuditEventRecord)
          .values(records.slice(start, start + INSERT_CHUNK))
          .orIgnore()
          .execute();
      }
    });
  }

  /** Up to `limit` rows matching `filter`, newest first, after `after`. */
  async query(filter: AuditFilter, limit: number, after?: AuditPosition): Promise<AuditEventRecord[]> {
    const query = this.dataSource.getRepository(AuditEventRecord).createQueryBuilder('e');
    if (filter.principal !== undefined) query.andWhere('e.principalSubject = :principal', filter);
    if (filter.target !== undefined) query.andWhere('e.target = :target', filter);
    if (filter.outcome !== undefined) query.andWhere('e.outcome = :outcome', filter);
    if (filter.operation !== undefined) query.andWhere('e.operation = :operation', filter);
    if (filter.since !== undefined) query.andWhere('e.time >= :since', filter);
    if (filter.until !== undefined) query.andWhere('e.time < :until', filter);
    if (after) {
      query.andWhere('(e.time < :afterTime OR (e.time = :afterTime AND e.id < :afterId))', {
        afterTime: after.time,
        afterId: after.id,
      });
    }
    return query.orderBy('e.time', 'DESC').addOrderBy('e.id', 'DESC').limit(limit).getMany();
  }

  /** Counts, outcomes and durations per target. */
  async stats(): Promise<TargetStats[]> {
    const rows: {
      target: string | null;
      operation: string;
      outcome: string;
      count: string | number;
      cached: string | number;
      total: string | number;
      max: string | number;
    }[] = await this.dataSource
      .getRepository(AuditEventRecord)
      .createQueryBuilder('e')
      .select('e.target', 'target')
      .addSelect('e.operation', 'operation')
      .addSelect('e.outcome', 'outcome')
      .addSelect('COUNT(*)', 'count')
      .addSelect('SUM(CASE WHEN e.cached THEN 1 ELSE 0 END)', 'cached')
      .addSelect('SUM(e.durationMs)', 'total')
      .addSelect('MAX(e.durationMs)', 'max')
      .groupBy('e.target')
      .addGroupBy('e.operation')
      .addGroupBy('e.outcome')
      .getRawMany();
    const byTarget = new Map<string, TargetStats & { totalMs: number }>();
    for (const row of rows) {
      const target = row.target ?? '';
      const key = `${row.operation}\n${target}`;
      let stats = byTarget.get(key);
      if (!stats) {
        stats = {
          target,
          operation: row.operation,
          count: 0,
          byOutcome: {},
          cached: 0,
          avgDurationMs: 0,
          maxDurationMs: 0,
          totalMs: 0,
        };
        byTarget.set(key, stats);
      }
      const count = Number(row.count);
      stats.count += count;
      stats.byOutcome[row.outcome] = count;
      stats.cached += Number(row.cached);
      stats.totalMs += Number(row.total);
      stats.maxDurationMs = Math.max(stats.maxDurationMs, Number(row.max));
    }
    return [...byTarget.values()]
      .map(({ totalMs, ...stats }) => ({
        ...stats,
        avgDurationMs: Math.round((totalMs / stats.count) * 1_000) / 1_000,
      }))
      .sort((a, b) => b.count - a.count || a.target.localeCompare(b.target));
  }

  /** Deletes at most `max` rows older than `cutoff` (ISO 8601), oldest first; returns how many it deleted. */
  async deleteOlderThan(cutoff: string, max: number): Promise<number> {
    const oldest = this.dataSource
      .getRepository(AuditEventRecord)
      .createQueryBuilder('old')
      .select('old.id')
      .where('old.time < :cutoff', { cutoff })
      .orderBy('old.time')
      .limit(max);
    const result = await this.dataSource
      .createQueryBuilder()
      .delete()
      .from(AuditEventRecord)
      .where(`id IN (${oldest.getQuery()})`)
      .setParameters(oldest.getParameters())
      .execute();
    return result.affected ?? 0;
  }

  /** Rows stored (for tests and readiness). */
  count(): Promise<number> {
    return this.dataSource.getRepository(AuditEventRecord).count();
  }
}
