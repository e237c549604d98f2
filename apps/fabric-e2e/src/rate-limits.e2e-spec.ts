import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import { RedisServerProcess } from '@fabric/platform-cache/testing';
import Redis from 'ioredis';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Fabric, INITIALIZE, postRaw, textOf } from './support/fabric';
import { metricValue } from './support/metrics';
import { eventually } from './support/processes';

const REDIS_URL = process.env['REDIS_URL'] ?? 'redis://127.0.0.1:6379';

/** A policy file with these rate limits, in a temporary folder removed by `remove`. */
function policyFile(rateLimits: unknown[]): { path: string; remove: () => void } {
  const dir = mkdtempSync(join(tmpdir(), 'e2e-policy-'));
  const path = join(dir, 'policy.json');
  writeFileSync(path, JSON.stringify({ rateLimits }));
  return { path, remove: () => rmSync(dir, { recursive: true, force: true }) };
}

const echo = (client: Client, text: string) =>
  client.callTool({ name: 'testbed_echo', arguments: { text } }) as Promise<CallToolResult>;

const sum = async (apps: { url: string }[], name: string, labels: Record<string, string> = {}) =>
  (await Promise.all(apps.map((app) => metricValue(app.url, name, labels)))).reduce((a, b) => a + b, 0);

// Two gateways behind round robin share the machine's Redis: one window per principal and tool for the fleet.
describe('rate limits and the session bound across gateways', () => {
  const policy = policyFile([
    { name: 'echo-per-minute', principal: '*', tool: 'testbed_echo', limit: 20, windowMs: 60_000 },
  ]);
  let fabric: Fabric;
  let client: Client;

  beforeAll(async () => {
    fabric = await Fabric.start({
      gateways: 2,
      env: { REDIS_URL },
      gatewayEnv: { AUTH_POLICY_FILE: policy.path, MAX_SESSIONS_PER_PRINCIPAL: '3' },
      services: [{ app: 'testbed-service' }],
    });
    ({ client } = await fabric.connect());
  });

  afterAll(async () => {
    await fabric?.stop();
    policy.remove();
    const redis = new Redis(REDIS_URL);
    const keys = await redis.keys(`${fabric?.namespace}:limits:*`);
    if (keys.length > 0) await redis.del(...keys);
    await redis.quit();
  });

  it('a limit of 20 per minute lets exactly 20 of 40 concurrent calls through both gateways', async () => {
    const results = await Promise.all(Array.from({ length: 40 }, (_, i) => echo(client, `call ${i}`)));
    const passed = results.filter((result) => !result.isError);
    expect(passed).toHaveLength(20);
    for (const refused of results.filter((result) => result.isError)) {
      expect(textOf(refused)).toMatch(
        /^Rate limit "echo-per-minute" exceeded: 20 calls per 60000 ms for anonymous on testbed_echo; retry in (59|60) s$/,
      );
    }
    // Nothing refused reached the service; both gateways refused some.
    expect(await sum(fabric.replicas('testbed-service'), 'fabric_service_calls_total', { name: 'echo' })).toBe(20);
    expect(await sum(fabric.gateways, 'fabric_gateway_rate_limited_total', { rule: 'echo-per-minute' })).toBe(20);
    for (const gateway of fabric.gateways) {
      expect(await metricValue(gateway.url, 'fabric_gateway_rate_limited_total')).toBeGreaterThan(0);
    }
    // Another tool is not covered by the rule.
    expect((await client.callTool({ name: 'testbed_stats', arguments: {} })).isError).toBeFalsy();
  });

  it('MAX_SESSIONS_PER_PRINCIPAL=3 refuses the 4th initialize with 429 and Retry-After, until one is deleted', async () => {
    // The SDK client above holds the first session; two more are admitted, whichever gateway takes them.
    const sessions: string[] = [];
    for (let i = 0; i < 2; i++) {
      const answer = await postRaw(fabric.mcpUrl, INITIALIZE);
      expect(answer.status).toBe(200);
      sessions.push(answer.headers.get('mcp-session-id')!);
    }
    for (let i = 0; i < 2; i++) {
      const refused = await postRaw(fabric.mcpUrl, INITIALIZE);
      expect(refused.status).toBe(429);
      expect(Number(refused.headers.get('retry-after'))).toBeGreaterThan(60);
      expect(refused.headers.get('mcp-session-id')).toBeNull();
      expect(JSON.stringify(refused.json)).toMatch(/MAX_SESSIONS_PER_PRINCIPAL/);
    }
    const deleted = await fetch(fabric.mcpUrl, { method: 'DELETE', headers: { 'mcp-session-id': sessions[0] } });
    expect(deleted.status).toBe(200);
    expect((await postRaw(fabric.mcpUrl, INITIALIZE)).status).toBe(200);
    expect((await postRaw(fabric.mcpUrl, INITIALIZE)).status).toBe(429);
    expect(
      await sum(fabric.gateways, 'fabric_gateway_rate_limited_total', { rule: 'MAX_SESSIONS_PER_PRINCIPAL' }),
    ).toBe(3);
  });
});

// Redis (a private server) stops while two gateways serve: RATE_LIMIT_FAIL=open lets calls through
// uncounted, RATE_LIMIT_FAIL=closed refuses them, and both count the failures and recover with Redis.
describe('rate limits while Redis is unreachable', () => {
  const policy = policyFile([{ principal: '*', tool: 'testbed_*', limit: 1_000, windowMs: 60_000 }]);
  let redis: RedisServerProcess;
  let fabric: Fabric;
  let open: Client;
  let closed: Client;
  let closedUrl: string;

  beforeAll(async () => {
    redis = await RedisServerProcess.start();
    fabric = await Fabric.start({
      env: { REDIS_URL: redis.url },
      gatewayEnv: { AUTH_POLICY_FILE: policy.path, RATE_LIMIT_FAIL: 'open' },
      services: [{ app: 'testbed-service' }],
    });
    const closedGateway = await fabric.startGateway({ RATE_LIMIT_FAIL: 'closed' });
    closedUrl = `${closedGateway.url}/mcp`;
    ({ client: open } = await fabric.connect('open'));
    closed = new Client({ name: 'closed', version: '1.0.0' }, { capabilities: {} });
    await closed.connect(new StreamableHTTPClientTransport(new URL(closedUrl)));
  });

  afterAll(async () => {
    await closed?.close().catch(() => undefined);
    await fabric?.stop();
    await redis?.stop();
    policy.remove();
  });

  it('fails open or closed as configured, counts the failures, and enforces limits again once Redis is back', async () => {
    expect((await echo(open, 'before')).isError).toBeFalsy();
    expect((await echo(closed, 'before')).isError).toBeFalsy();

    await redis.kill();
    for (let i = 0; i < 3; i++) {
      expect(textOf(await echo(open, `open ${i}`))).toBe(`open ${i}`);
      const refused = await echo(closed, `closed ${i}`);
      expect(refused.isError).toBe(true);
      expect(textOf(refused)).toBe('Rate limits cannot be checked right now; retry in 1 s');
    }
    // A new session: admitted uncounted by the open gateway, 503 with Retry-After from the closed one.
    expect((await postRaw(fabric.mcpUrl, INITIALIZE)).status).toBe(200);
    const unavailable = await postRaw(closedUrl, INITIALIZE);
    expect(unavailable.status).toBe(503);
    expect(unavailable.headers.get('retry-after')).toBe('1');
    for (const gateway of fabric.gateways) {
      expect(await metricValue(gateway.url, 'fabric_gateway_rate_limit_errors_total')).toBeGreaterThan(0);
    }
    expect(
      await metricValue(fabric.gateways[1].url, 'fabric_gateway_rate_limited_total', { rule: 'unavailable' }),
    ).toBe(4);

    await redis.restart();
    await eventually(async () => !(await echo(closed, 'after')).isError, 15_000, 'the closed gateway to serve again');
    expect((await postRaw(closedUrl, INITIALIZE)).status).toBe(200);
  });
});
