import { randomBytes } from 'node:crypto';
import { Fabric, INITIALIZE, postRaw, textOf } from './support/fabric';
import { OtlpReceiver, SPAN_KIND, type ReceivedSpan } from './support/otlp-receiver';
import { eventually, type AppProcess } from './support/processes';

const REDIS_URL = process.env['REDIS_URL'] ?? 'redis://127.0.0.1:6379';

const hex = (bytes: number) => randomBytes(bytes).toString('hex');

/** A client's W3C trace context: a fresh trace id and the id of the client's own span. */
function clientTrace(): { traceId: string; spanId: string; traceparent: string } {
  const traceId = hex(16);
  const spanId = hex(8);
  return { traceId, spanId, traceparent: `00-${traceId}-${spanId}-01` };
}

function callBody(id: number, text: string, meta?: Record<string, unknown>): string {
  return JSON.stringify({
    jsonrpc: '2.0',
    id,
    method: 'tools/call',
    params: { name: 'testbed_echo', arguments: { text }, ...(meta ? { _meta: meta } : {}) },
  });
}

async function openSession(url: string): Promise<string> {
  const init = await postRaw(url, INITIALIZE);
  expect(init.status).toBe(200);
  return init.headers.get('mcp-session-id')!;
}

/** Waits for the chain client → gateway SERVER span → NATS CLIENT span → service SERVER span of one trace. */
async function chainOf(
  receiver: OtlpReceiver,
  traceId: string,
): Promise<{ operation: ReceivedSpan; nats: ReceivedSpan; handler: ReceivedSpan }> {
  return eventually(
    () => {
      const spans = receiver.trace(traceId);
      const operation = spans.find(
        (span) =>
          span.service === 'gateway' && span.kind === SPAN_KIND.server && span.name === 'tools/call testbed_echo',
      );
      const nats = spans.find((span) => span.service === 'gateway' && span.kind === SPAN_KIND.client);
      const handler = spans.find((span) => span.service === 'testbed-service' && span.kind === SPAN_KIND.server);
      return operation && nats && handler ? { operation, nats, handler } : undefined;
    },
    15_000,
    `the spans of trace ${traceId} from the gateway and the service`,
  );
}

function accessLines(gateway: AppProcess): Record<string, unknown>[] {
  return gateway
    .logs()
    .split('\n')
    .filter((line) => line.includes('"log":"access"'))
    .map((line) => JSON.parse(line) as Record<string, unknown>);
}

describe('traces across the bus (OpenTelemetry)', () => {
  let receiver: OtlpReceiver;
  let fabric: Fabric;

  beforeAll(async () => {
    receiver = await OtlpReceiver.start();
    fabric = await Fabric.start({
      services: [{ app: 'testbed-service' }],
      env: { OTEL_EXPORTER_OTLP_ENDPOINT: receiver.endpoint, OTEL_BSP_SCHEDULE_DELAY: '100', REDIS_URL },
      gatewayEnv: { LOG_LEVEL: 'info' },
    });
  });

  afterAll(async () => {
    await fabric?.stop();
    await receiver?.close();
  });

  it("continues a client's _meta.traceparent: gateway, NATS call and service handler spans in one trace", async () => {
    const { client } = await fabric.connect();
    await fabric.waitForTool(client, 'testbed_echo');
    const trace = clientTrace();
    const result = await client.callTool({
      name: 'testbed_echo',
      arguments: { text: 'traced' },
      _meta: { traceparent: trace.traceparent },
    });
    expect(textOf(result)).toContain('traced');

    const { operation, nats, handler } = await chainOf(receiver, trace.traceId);
    expect(operation.parentSpanId).toBe(trace.spanId);
    expect(operation.attributes).toMatchObject({ 'mcp.method.name': 'tools/call', 'gen_ai.tool.name': 'testbed_echo' });
    expect(operation.attributes['fabric.outcome']).toBe('ok');
    expect(nats.parentSpanId).toBe(operation.spanId);
    expect(nats.attributes).toMatchObject({
      'messaging.system': 'nats',
      'fabric.service': 'testbed',
      'fabric.attempt': 0,
    });
    expect(handler.parentSpanId).toBe(nats.spanId);
    expect(handler.name).toBe('tools.call echo');
    // The access line of the request names the trace too.
    await eventually(
      () => accessLines(fabric.gateway).some((line) => line['trace'] === trace.traceId),
      10_000,
      'the access line with the trace id',
    );
  });

  it("puts the edge cache's lookup, its Redis round trips and the call it leads under the operation's span", async () => {
    const { client } = await fabric.connect();
    await fabric.waitForTool(client, 'testbed_cached_stamp');
    const key = hex(4);
    const miss = clientTrace();
    await client.callTool({
      name: 'testbed_cached_stamp',
      arguments: { key },
      _meta: { traceparent: miss.traceparent },
    });
    // The gateway and the service export on their own schedules: wait for both (the operation span ends last).
    const { spans, operation, lookup, nats } = await eventually(
      () => {
        const found = receiver.trace(miss.traceId);
        const operation = found.find((span) => span.kind === SPAN_KIND.server && span.service === 'gateway');
        const lookup = found.find((span) => span.name === 'cache testbed');
        const nats = found.find((span) => span.kind === SPAN_KIND.client && span.name.startsWith('nats '));
        const handler = found.some((span) => span.service === 'testbed-service');
        return operation && lookup && nats && handler ? { spans: found, operation, lookup, nats } : undefined;
      },
      15_000,
      'the spans of the cache miss',
    );
    expect(lookup.parentSpanId).toBe(operation.spanId);
    expect(lookup.attributes['fabric.cache.hit']).toBe(false);
    // Redis round trips end before the lookup that made them: exported with it or before.
    const redis = spans.filter((span) => span.name.startsWith('redis '));
    expect(redis.length).toBeGreaterThan(0);
    for (const span of redis) {
      expect(span.parentSpanId).toBe(lookup.spanId);
      expect(span.attributes['db.system.name']).toBe('redis');
    }
    expect(nats.parentSpanId).toBe(lookup.spanId);

    const hit = clientTrace();
    await client.callTool({
      name: 'testbed_cached_stamp',
      arguments: { key },
      _meta: { traceparent: hit.traceparent },
    });
    const served = await eventually(
      () => receiver.trace(hit.traceId).find((span) => span.kind === SPAN_KIND.server && span.service === 'gateway'),
      15_000,
      'the span of the cache hit',
    );
    expect(served.attributes['fabric.cache.hit']).toBe(true);
    expect(receiver.trace(hit.traceId).some((span) => span.service === 'testbed-service')).toBe(false);
  });

  it('continues the HTTP traceparent header of a request without _meta.traceparent', async () => {
    const url = fabric.mcpUrl;
    const session = await openSession(url);
    const trace = clientTrace();
    const answer = await postRaw(url, callBody(2, 'by header'), {
      'mcp-session-id': session,
      traceparent: trace.traceparent,
    });
    expect(answer.status).toBe(200);

    const { operation, nats, handler } = await chainOf(receiver, trace.traceId);
    expect(operation.parentSpanId).toBe(trace.spanId);
    expect(nats.parentSpanId).toBe(operation.spanId);
    expect(handler.parentSpanId).toBe(nats.spanId);
  });

  it("continues the trace of a task-augmented call in the run of the task's worker", async () => {
    const url = fabric.mcpUrl;
    const session = await openSession(url);
    const trace = clientTrace();
    const body = JSON.stringify({
      jsonrpc: '2.0',
      id: 5,
      method: 'tools/call',
      params: {
        name: 'testbed_long_job',
        arguments: { steps: 1, ms: 0 },
        task: { ttl: 60_000 },
        _meta: { traceparent: trace.traceparent },
      },
    });
    expect((await postRaw(url, body, { 'mcp-session-id': session })).status).toBe(200);
    const { operation, run } = await eventually(
      () => {
        const spans = receiver.trace(trace.traceId);
        const operation = spans.find((span) => span.service === 'gateway' && span.kind === SPAN_KIND.server);
        const run = spans.find((span) => span.service === 'testbed-service' && span.name === 'tools.call long_job');
        return operation && run ? { operation, run } : undefined;
      },
      15_000,
      'the spans of the task',
    );
    expect(operation.parentSpanId).toBe(trace.spanId);
    expect(operation.name).toBe('tools/call testbed_long_job');
    expect(run.parentSpanId).toBe(operation.spanId);
    expect(run.attributes['fabric.task.attempt']).toBe(1);
  });

  it('starts a trace of its own for a request that carries none, and names it in the access line', async () => {
    const url = fabric.mcpUrl;
    const session = await openSession(url);
    const requestId = `untraced-${hex(4)}`;
    expect(
      (await postRaw(url, callBody(3, 'untraced'), { 'mcp-session-id': session, 'x-request-id': requestId })).status,
    ).toBe(200);
    const line = await eventually(
      () => accessLines(fabric.gateway).find((candidate) => candidate['req'] === requestId),
      10_000,
      'the access line',
    );
    const traceId = line['trace'] as string;
    expect(traceId).toMatch(/^[0-9a-f]{32}$/);
    const { operation, handler } = await chainOf(receiver, traceId);
    expect(operation.parentSpanId).toBeUndefined();
    expect(handler.traceId).toBe(traceId);
  });
});

describe('trace ids with tracing off', () => {
  let fabric: Fabric;

  beforeAll(async () => {
    fabric = await Fabric.start({ services: [{ app: 'testbed-service' }], gatewayEnv: { LOG_LEVEL: 'info' } });
  });

  afterAll(async () => {
    await fabric?.stop();
  });

  it("still writes the request's trace id (from _meta or the HTTP header) in its access line", async () => {
    const url = fabric.mcpUrl;
    const session = await openSession(url);
    const byMeta = clientTrace();
    const byHeader = clientTrace();
    expect(
      (
        await postRaw(url, callBody(2, 'meta', { traceparent: byMeta.traceparent }), {
          'mcp-session-id': session,
          'x-request-id': 'by-meta',
        })
      ).status,
    ).toBe(200);
    expect(
      (
        await postRaw(url, callBody(3, 'header'), {
          'mcp-session-id': session,
          'x-request-id': 'by-header',
          traceparent: byHeader.traceparent,
        })
      ).status,
    ).toBe(200);
    await eventually(
      () => {
        const lines = accessLines(fabric.gateway);
        return lines.some((line) => line['req'] === 'by-meta') && lines.some((line) => line['req'] === 'by-header');
      },
      10_000,
      'both access lines',
    );
    const lines = accessLines(fabric.gateway);
    expect(lines.find((line) => line['req'] === 'by-meta')).toMatchObject({ mcp: 'tools/call', trace: byMeta.traceId });
    expect(lines.find((line) => line['req'] === 'by-header')).toMatchObject({ trace: byHeader.traceId });
    // A request without any trace gets no trace field (tracing off: none is made up).
    const session2 = await openSession(url);
    await postRaw(url, callBody(4, 'plain'), { 'mcp-session-id': session2, 'x-request-id': 'plain' });
    const plain = await eventually(
      () => accessLines(fabric.gateway).find((line) => line['req'] === 'plain'),
      10_000,
      'the plain access line',
    );
    expect(plain['trace']).toBeUndefined();
  });
});
