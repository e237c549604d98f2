import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { DataSource } from 'typeorm';
import type { AuditEvent } from '@fabric/contracts';
import { createScratchDatabase, openDataSource, type ScratchDatabase } from '@fabric/platform-persistence';
import { auditPersistence } from './audit.persistence';
import { AuditRepository, toRecord } from './audit.repository';

const event = (n: number, extra: Partial<AuditEvent> = {}): AuditEvent => ({
  id: `event-${String(n).padStart(4, '0')}`,
  time: new Date(Date.UTC(2026, 0, 1, 0, 0, n)).toISOString(),
  operation: 'tools/call',
  target: n % 2 === 0 ? 'svc_even' : 'svc_odd',
  principal: { subject: n % 3 === 0 ? 'alice' : 'bob' },
  outcome: n % 5 === 0 ? 'tool_error' : 'ok',
  cached: n % 4 === 0,
  durationMs: n,
  gateway: 'gw1',
  ...extra,
});

describe.each(['sqlite', 'postgres'] as const)('AuditRepository on %s', (kind) => {
  let dataSource: DataSource;
  let repository: AuditRepository;
  let scratch: ScratchDatabase | undefined;
  let dir: string | undefined;

  beforeAll(async () => {
    let url: string;
    if (kind === 'postgres') {
      scratch = await createScratchDatabase('audit_repository');
      url = scratch.url;
    } else {
      dir = mkdtempSync(join(tmpdir(), 'audit-repository-'));
      url = `sqlite:${join(dir, 'audit.sqlite')}`;
    }
    dataSource = await openDataSource(url, auditPersistence);
    repository = new AuditRepository(dataSource);
  });

  afterAll(async () => {
    if (dataSource?.isInitialized) await dataSource.destroy();
    await scratch?.drop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('stores a redelivered event once, within a batch and across batches', async () => {
    const events = Array.from({ length: 450 }, (_, n) => event(n + 1));
    await repository.insert(events.slice(0, 300).map(toRecord));
    await repository.insert([...events.slice(250), events[0], events[0]].map(toRecord));
    expect(await repository.count()).toBe(450);
  });

  it('pages a filtered query newest first, with a cursor that resumes after the last row', async () => {
    const first = await repository.query({ principal: 'alice', target: 'svc_even' }, 10);
    expect(first.map((row) => row.id)).toEqual(
      [450, 444, 438, 432, 426, 420, 414, 408, 402, 396].map((n) => `event-${String(n).padStart(4, '0')}`),
    );
    const next = await repository.query({ principal: 'alice', target: 'svc_even' }, 2, first[9]);
    expect(next.map((row) => row.id)).toEqual(['event-0390', 'event-0384']);
    const ranged = await repository.query({ outcome: 'tool_error', since: event(10).time, until: event(30).time }, 100);
    expect(ranged.map((row) => row.id)).toEqual(['event-0025', 'event-0020', 'event-0015', 'event-0010']);
  });

  it('counts per target, by outcome, with cache hits and durations', async () => {
    const odd = (await repository.stats()).find((stats) => stats.target === 'svc_odd');
    expect(odd).toMatchObject({ count: 225, byOutcome: { ok: 180, tool_error: 45 }, cached: 0, maxDurationMs: 449 });
    expect(odd?.avgDurationMs).toBe(225);
  });

  it('deletes the oldest rows before a cutoff, at most as many as asked', async () => {
    expect(await repository.deleteOlderThan(event(101).time, 60)).toBe(60);
    expect(await repository.deleteOlderThan(event(101).time, 60)).toBe(40);
    expect(await repository.count()).toBe(350);
  });
});
