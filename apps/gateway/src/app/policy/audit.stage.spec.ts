import { createHash } from 'node:crypto';
import {
  AuditEventSchema,
  ServiceManifestSchema,
  UnavailableError,
  type AuditEvent,
  type Principal,
} from '@fabric/contracts';
import { Cache } from '@fabric/platform-cache';
import { MemoryRateLimiter } from '@fabric/platform-limits';
import type { CatalogService } from '../catalog/catalog.service';
import { CatalogSnapshot } from '../catalog/catalog.snapshot';
import { ResourceResolver } from '../catalog/resource-resolver';
import type { Operation, OperationContext, OperationRequest } from '../operations/operation';
import { RPC, RpcError } from '../operations/rpc.error';
import type { AuditSink } from './audit.publisher';
import { AuditStage } from './audit.stage';
import { AuthorizeStage } from './authorize.stage';
import { CacheStage } from './cache.stage';
import { parsePolicy } from './policy-file';
import { InsufficientScopeError } from './policy.errors';
import { PolicyPipeline } from './policy.pipeline';
import { RateLimitRules } from './rate-limit.rules';
import { RateLimitStage } from './rate-limit.stage';
import { ScopeRules } from './scope.rules';

const manifest = ServiceManifestSchema.parse({
  service: 'files',
  version: '1.0.0',
  revision: 'rev1',
  tools: [
    { name: 'read', inputSchema: { type: 'object' }, cache: { ttlMs: 60_000 } },
    { name: 'write', inputSchema: { type: 'object' }, scopes: ['files:write'] },
  ],
  resources: [{ uri: 'files://readme', name: 'readme' }],
  prompts: [{ name: 'summarize' }],
});
const catalog = {
  snapshot: new CatalogSnapshot(new Map([['files', { manifest, instances: ['f1'] }]]), { prefix: true }),
} as unknown as CatalogService;
const resources = new ResourceResolver(catalog);

/** The sink under the stage: it keeps what it is handed (what the publisher does with it is tested on its own). */
class CollectingSink implements AuditSink {
  readonly events: AuditEvent[] = [];
  record(event: AuditEvent): void {
    this.events.push(AuditEventSchema.parse(event));
  }
}

const alice: Principal = { subject: 'alice', issuer: 'https://as.example', clientId: 'cli', scopes: ['files:read'] };

describe('AuditStage', () => {
  let sink: CollectingSink;
  let cache: Cache;
  let limiter: MemoryRateLimiter;
  let backend: { calls: number; answer: () => Promise<unknown> };

  const pipeline = (withArguments = false) =>
    new PolicyPipeline([
      new AuditStage(sink, catalog, resources, { gateway: 'gw1', withArguments }),
      new AuthorizeStage(new ScopeRules(parsePolicy({}), catalog, resources)),
      new RateLimitStage(
        RateLimitRules.of(
          parsePolicy({
            rateLimits: [{ name: 'one', principal: 'alice', tool: 'files_read', limit: 1, windowMs: 60_000 }],
          }).rateLimits,
        ),
        limiter,
      ),
      new CacheStage(cache, catalog, resources),
    ]);

  const run = (
    operation: Operation,
    context: OperationContext = { principal: alice, sessionId: 'sess-1' },
    p = pipeline(),
  ) => {
    const request: OperationRequest = { operation, context, served: {} };
    return p.run(request, async () => {
      backend.calls++;
      request.served.revision = 'rev1';
      request.served.instance = 'files-instance-1';
      return backend.answer();
    });
  };

  beforeEach(() => {
    sink = new CollectingSink();
    cache = new Cache({
      prefix: 'spec:audit',
      maxEntries: 100,
      maxBytes: 1 << 20,
      ttlJitterPercent: 0,
      redisTimeoutMs: 50,
      lockTtlMs: 1_000,
      lockWaitMs: 100,
    });
    limiter = new MemoryRateLimiter();
    backend = { calls: 0, answer: async () => ({ content: [{ type: 'text', text: 'ok' }] }) };
  });

  afterEach(async () => {
    cache.close();
    await limiter.close();
  });

  it('records a successful call with who, what, a digest of the arguments, the instance and the trace id', async () => {
    const args = { b: 2, a: [1, 'x'] };
    await run(
      { kind: 'tools/call', name: 'files_write', arguments: args },
      { principal: { ...alice, scopes: ['files:write'] }, sessionId: 'sess-1', traceId: 'ab'.repeat(16) },
    );
    const canonical = '{"a":[1,"x"],"b":2}';
    expect(sink.events).toEqual([
      {
        id: expect.stringMatching(/^[0-9a-f-]{36}$/),
        time: expect.stringMatching(/^\d{4}-\d\d-\d\dT/),
        operation: 'tools/call',
        principal: { subject: 'alice', issuer: 'https://as.example', clientId: 'cli' },
        session: createHash('sha256').update('sess-1').digest('hex').slice(0, 32),
        service: 'files',
        target: 'files_write',
        argumentsHash: createHash('sha256').update(canonical).digest('hex'),
        argumentsBytes: canonical.length,
        outcome: 'ok',
        cached: false,
        durationMs: expect.any(Number),
        gateway: 'gw1',
        serviceInstance: 'files-instance-1',
        traceId: 'ab'.repeat(16),
      },
    ]);
    expect(JSON.stringify(sink.events)).not.toContain('sess-1');
  });

  it('keeps the arguments themselves only when asked to', async () => {
    await run({ kind: 'tools/call', name: 'files_read', arguments: { path: '/a' } }, undefined, pipeline(true));
    await run({ kind: 'prompts/get', name: 'files_summarize', arguments: { path: '/b' } });
    expect(sink.events.map((event) => event.arguments)).toEqual([{ path: '/a' }, undefined]);
    expect(sink.events[1]).toMatchObject({ operation: 'prompts/get', target: 'files_summarize', service: 'files' });
  });

  it('records a scope refusal and a rate-limit refusal as refused, though no service was asked', async () => {
    await expect(run({ kind: 'tools/call', name: 'files_write' })).rejects.toThrow(InsufficientScopeError);
    await run({ kind: 'tools/call', name: 'files_read', arguments: { path: '/a' } });
    const limited = await run({ kind: 'tools/call', name: 'files_read', arguments: { path: '/b' } });
    expect(limited).toMatchObject({ isError: true });
    expect(backend.calls).toBe(1);
    expect(sink.events.map(({ outcome, errorCode }) => [outcome, errorCode])).toEqual([
      ['refused', 'INSUFFICIENT_SCOPE'],
      ['ok', undefined],
      ['refused', 'RATE_LIMITED'],
    ]);
  });

  it('marks an answer from the cache as cached, without a service instance', async () => {
    const anonymous = { sessionId: 'sess-2' };
    await run({ kind: 'tools/call', name: 'files_read', arguments: { path: '/a' } }, anonymous);
    await run({ kind: 'tools/call', name: 'files_read', arguments: { path: '/a' } }, { sessionId: 'sess-3' });
    expect(backend.calls).toBe(1);
    expect(sink.events.map(({ cached, serviceInstance }) => [cached, serviceInstance])).toEqual([
      [false, 'files-instance-1'],
      [true, undefined],
    ]);
    expect(sink.events[0].principal).toBeUndefined();
  });

  it('records a tool error, a protocol error and an unexpected failure, and passes each to the client unchanged', async () => {
    const context = { principal: { ...alice, scopes: ['files:write'] } };
    backend.answer = async () => ({ isError: true, content: [{ type: 'text', text: 'no' }] });
    expect(await run({ kind: 'tools/call', name: 'files_write' }, context)).toMatchObject({ isError: true });
    const notFound = new RpcError(RPC.ResourceNotFound, 'Resource not found');
    backend.answer = () => Promise.reject(notFound);
    await expect(run({ kind: 'resources/read', uri: 'files://readme' }, context)).rejects.toBe(notFound);
    backend.answer = () => Promise.reject(new UnavailableError('down'));
    await expect(run({ kind: 'resources/read', uri: 'files://readme' }, context)).rejects.toThrow('down');
    backend.answer = () => Promise.reject(new Error('boom'));
    await expect(run({ kind: 'tools/call', name: 'files_write' }, context)).rejects.toThrow('boom');
    expect(
      sink.events.map(({ operation, outcome, errorCode, target }) => [operation, outcome, errorCode, target]),
    ).toEqual([
      ['tools/call', 'tool_error', undefined, 'files_write'],
      ['resources/read', 'error', String(RPC.ResourceNotFound), 'files://readme'],
      ['resources/read', 'error', 'UNAVAILABLE', 'files://readme'],
      ['tools/call', 'error', 'INTERNAL', 'files_write'],
    ]);
  });

  it('records nothing for lists and completions, and task operations by their task id', async () => {
    await run({ kind: 'tools/list' });
    await run({ kind: 'prompts/list' });
    await run({
      kind: 'completion/complete',
      ref: { type: 'ref/prompt', name: 'files_summarize' },
      argument: { name: 'path', value: '/' },
    });
    expect(sink.events).toEqual([]);
    // Task operations join the union elsewhere; the stage knows them by kind alone.
    await run({ kind: 'tasks/get', taskId: 'task-7' } as unknown as Operation);
    expect(sink.events).toMatchObject([{ operation: 'tasks/get', target: 'task-7', outcome: 'ok' }]);
  });

  it('answers the client even when the sink fails', async () => {
    const failing = new PolicyPipeline([
      new AuditStage(
        {
          record: () => {
            throw new Error('sink down');
          },
        },
        catalog,
        resources,
        { gateway: 'gw1', withArguments: false },
      ),
    ]);
    const request: OperationRequest = {
      operation: { kind: 'tools/call', name: 'files_read' },
      context: {},
      served: {},
    };
    expect(await failing.run(request, async () => 'answer')).toBe('answer');
  });
});
