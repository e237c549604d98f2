import type { TaskRecord } from '@fabric/contracts';
import { isExpired } from '../tasks/task.store';
import { grantedTtl, newTaskId, ownerDigestOf, taskOwnerOf, terminalResultOf, toTask } from './tasks.operations';

const RELATED = 'io.modelcontextprotocol/related-task';

function record(overrides: Partial<TaskRecord> = {}): TaskRecord {
  return {
    taskId: 'AAAAAAAAAAAAAAAAAAAAAA',
    service: 'testbed',
    tool: 'long_job',
    publicName: 'testbed_long_job',
    status: 'working',
    createdAt: '2026-12-01T10:00:00.000Z',
    lastUpdatedAt: '2026-12-01T10:00:01.000Z',
    ttlMs: 60_000,
    pollIntervalMs: 1_000,
    attempt: 1,
    sessionId: 's1',
    progressToken: 7,
    ...overrides,
  };
}

describe('task operations (pure parts)', () => {
  it('task ids are 22 base64url characters, never twice the same', () => {
    const ids = new Set(Array.from({ length: 1_000 }, () => newTaskId()));
    expect(ids.size).toBe(1_000);
    for (const id of ids) expect(id).toMatch(/^[A-Za-z0-9_-]{22}$/);
  });

  it('a task belongs to the principal when there is one, else to the session, else to nobody', () => {
    const principal = { subject: 'ada', issuer: 'https://idp', scopes: [] };
    expect(taskOwnerOf({ principal, sessionId: 's1' })).toBe(taskOwnerOf({ principal, sessionId: 's2' }));
    expect(taskOwnerOf({ sessionId: 's1' })).not.toBe(taskOwnerOf({ sessionId: 's2' }));
    // A session id that looks like a principal key is still another owner.
    expect(taskOwnerOf({ sessionId: 'https://idp\nada' })).not.toBe(taskOwnerOf({ principal }));
    expect(taskOwnerOf({})).toBeUndefined();
  });

  it('the owner digest is 32 hex characters and the same for the same owner', () => {
    const digest = ownerDigestOf('session\ns1');
    expect(digest).toMatch(/^[0-9a-f]{32}$/);
    expect(ownerDigestOf('session\ns1')).toBe(digest);
    expect(ownerDigestOf('session\ns2')).not.toBe(digest);
  });

  it('grants the requested ttl within [1 s, TASK_MAX_TTL_MS], the default when none is asked for', () => {
    const env = { TASK_DEFAULT_TTL_MS: 3_600_000, TASK_MAX_TTL_MS: 86_400_000 };
    expect(grantedTtl(undefined, env)).toBe(3_600_000);
    expect(grantedTtl(60_000.7, env)).toBe(60_000);
    expect(grantedTtl(10, env)).toBe(1_000);
    expect(grantedTtl(10 * 86_400_000, env)).toBe(86_400_000);
    expect(grantedTtl(Number.NaN, env)).toBe(3_600_000);
  });

  it('a task is expired once createdAt + ttl has passed', () => {
    const created = Date.parse('2026-12-01T10:00:00.000Z');
    expect(isExpired(record(), created + 60_000)).toBe(false);
    expect(isExpired(record(), created + 60_001)).toBe(true);
    expect(isExpired(record({ createdAt: 'not a date' }), created)).toBe(true);
  });

  it("shows a record as the spec's Task, without the fabric's own fields", () => {
    expect(toTask(record({ statusMessage: 'halfway' }))).toEqual({
      taskId: 'AAAAAAAAAAAAAAAAAAAAAA',
      status: 'working',
      statusMessage: 'halfway',
      createdAt: '2026-12-01T10:00:00.000Z',
      lastUpdatedAt: '2026-12-01T10:00:01.000Z',
      ttl: 60_000,
      pollInterval: 1_000,
    });
  });

  it('tasks/result of a completed task is its tool result, tagged with the task', () => {
    const result = { content: [{ type: 'text', text: 'done' }], _meta: { other: 1 } };
    expect(terminalResultOf(record({ status: 'completed', outcome: { ok: true, result } }))).toEqual({
      content: [{ type: 'text', text: 'done' }],
      _meta: { other: 1, [RELATED]: { taskId: 'AAAAAAAAAAAAAAAAAAAAAA' } },
    });
  });

  it('tasks/result of a failed task is the tool result with isError, or the error as a plain call reports it', () => {
    const isError = { isError: true, content: [{ type: 'text', text: 'no such order' }] };
    expect(terminalResultOf(record({ status: 'failed', outcome: { ok: true, result: isError } }))).toMatchObject(
      isError,
    );
    const failed = record({
      status: 'failed',
      outcome: { ok: false, error: { code: 'TIMEOUT', message: 'took too long', retryable: true } },
    });
    expect(terminalResultOf(failed)).toEqual({
      isError: true,
      content: [{ type: 'text', text: 'took too long (retryable)' }],
      _meta: { [RELATED]: { taskId: 'AAAAAAAAAAAAAAAAAAAAAA' } },
    });
  });

  it('tasks/result of a cancelled task is a tool error saying so, whatever the handler produced', () => {
    const cancelled = record({
      status: 'cancelled',
      statusMessage: 'The task was cancelled by request.',
      outcome: { ok: true, result: { content: [] } },
    });
    expect(terminalResultOf(cancelled)).toMatchObject({
      isError: true,
      content: [{ type: 'text', text: 'The task was cancelled by request.' }],
    });
  });
});
