import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { createHash, randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect } from 'nats';
import { auditStorage } from '@fabric/contracts';
import { Fabric, listAllTools } from './support/fabric';
import { eventually, type AppProcess } from './support/processes';

const STATS = 'audit://stats/tools';

interface TargetStats {
  target: string;
  count: number;
  byOutcome: Record<string, number>;
  cached: number;
}

/** The audit service's statistics of one target (undefined until it has a row). */
async function statsOf(client: Client, target: string): Promise<TargetStats | undefined> {
  const read = await client.readResource({ uri: STATS });
  const { targets } = JSON.parse((read.contents[0] as { text: string }).text) as { targets: TargetStats[] };
  return targets.find((stats) => stats.target === target);
}

/** `count` calls of `testbed_echo`, `concurrency` at a time; `during` runs once `after` of them have answered. */
async function echoCalls(
  client: Client,
  count: number,
  concurrency = 16,
  during?: { after: number; run: () => Promise<unknown> },
) {
  let next = 0;
  let answered = 0;
  let action: Promise<unknown> | undefined;
  const worker = async () => {
    while (next < count) {
      const n = next++;
      const result = await client.callTool({ name: 'testbed_echo', arguments: { text: `call ${n}` } });
      expect(result.isError).toBeFalsy();
      if (++answered === during?.after) action = during.run();
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
  await action;
}

// Two gateways behind a round-robin proxy, a testbed and an audit service on a SQLite file of the test's own.
describe('audit trail', () => {
  let fabric: Fabric;
  let dir: string;
  let client: Client;
  let auditEnv: Record<string, string>;
  /** Echo calls made so far: the rows the trail must hold for testbed_echo. */
  let echoes = 0;

  const auditService = (): AppProcess => fabric.replicas('audit-service')[0];
  const echoRows = async () => (await statsOf(client, 'testbed_echo'))?.count ?? 0;
  const exactlyEchoRows = (what: string) =>
    eventually(async () => (await echoRows()) === echoes, 30_000, `${echoes} rows of testbed_echo (${what})`);

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'e2e-audit-'));
    const policyFile = join(dir, 'policy.json');
    writeFileSync(
      policyFile,
      JSON.stringify({
        rateLimits: [{ name: 'whoami-once', principal: '*', tool: 'testbed_whoami', limit: 1, windowMs: 3_600_000 }],
      }),
    );
    auditEnv = {
      DATABASE_URL: `sqlite:${join(dir, 'audit.sqlite')}`,
      AUDIT_BATCH_SIZE: '50',
      AUDIT_ACK_WAIT_MS: '2000',
    };
    fabric = await Fabric.start({
      gateways: 2,
      gatewayEnv: { AUTH_POLICY_FILE: policyFile, REDIS_URL: process.env['REDIS_URL'] ?? 'redis://127.0.0.1:6379' },
      services: [{ app: 'testbed-service' }, { app: 'audit-service', env: auditEnv }],
    });
    ({ client } = await fabric.connect('e2e-audit'));
    await fabric.waitForTool(client, 'audit_query');
  });

  afterAll(async () => {
    await fabric?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('N calls through two gateways are N rows; refusals, failures and cache hits are rows with their outcome', async () => {
    await echoCalls(client, 200);
    echoes += 200;
    // A limit of one call per hour, fleet-wide: the second and third are refused.
    for (let n = 0; n < 3; n++) await client.callTool({ name: 'testbed_whoami', arguments: {} });
    expect((await client.callTool({ name: 'testbed_fail', arguments: {} })).isError).toBe(true);
    const key = randomBytes(4).toString('hex');
    for (let n = 0; n < 4; n++) await client.callTool({ name: 'testbed_cached_stamp', arguments: { key } });

    await exactlyEchoRows('all stored');
    const whoami = await eventually(
      async () => {
        const stats = await statsOf(client, 'testbed_whoami');
        return stats?.count === 3 && stats;
      },
      15_000,
      'three whoami rows',
    );
    expect(whoami.byOutcome).toEqual({ ok: 1, refused: 2 });
    const fail = await eventually(async () => statsOf(client, 'testbed_fail'), 15_000, 'the failed call');
    expect(fail).toMatchObject({ count: 1, byOutcome: { tool_error: 1 } });
    const stamps = await eventually(
      async () => {
        const stats = await statsOf(client, 'testbed_cached_stamp');
        return stats?.count === 4 && stats;
      },
      15_000,
      'four cached_stamp rows',
    );
    // The first call missed; the others were answered from the cache (shared in Redis by both gateways).
    expect(stamps.cached).toBe(3);
    // Nothing more arrives later (no duplicate from a redelivery).
    const later = await client.callTool({ name: 'audit_query', arguments: { target: 'testbed_echo', limit: 100 } });
    const page = later.structuredContent as { events: { id: string; cached: boolean; argumentsHash: string }[] };
    expect(page.events).toHaveLength(100);
    expect(new Set(page.events.map((event) => event.id)).size).toBe(100);
    expect(page.events[0].argumentsHash).toMatch(/^[0-9a-f]{64}$/);
    expect(await echoRows()).toBe(echoes);
  });

  it('events published while the audit service is stopped are stored once it is back', async () => {
    await echoCalls(client, 200, 16, { after: 50, run: () => auditService().stop('SIGTERM') });
    echoes += 200;
    await fabric.startApp('audit-service', auditEnv);
    await exactlyEchoRows('after the restart');
  });

  it('a batch the audit service was killed in the middle of is delivered again and stored once', async () => {
    const before = echoes;
    await echoCalls(client, 1_500, 32, {
      after: 300,
      run: async () => {
        // Killed once it has stored part of these calls, with batches in hand.
        await eventually(async () => (await echoRows()) > before, 15_000, 'some rows of this run');
        await auditService().stop('SIGKILL');
      },
    });
    echoes += 1_500;
    await fabric.startApp('audit-service', auditEnv);
    await exactlyEchoRows('after the kill and restart');
    // And it stays so once the consumer holds nothing unacknowledged nor undelivered (every redelivery done).
    const nats = await connect({ servers: process.env['NATS_URL'] ?? 'nats://127.0.0.1:4222' });
    try {
      const jsm = await nats.jetstreamManager();
      const storage = auditStorage(fabric.namespace);
      await eventually(
        async () => {
          const info = await jsm.consumers.info(storage.stream, storage.consumer);
          return info.num_ack_pending === 0 && info.num_pending === 0;
        },
        15_000,
        'the audit consumer to have acknowledged everything',
      );
    } finally {
      await nats.close();
    }
    expect(await echoRows()).toBe(echoes);
  });
});

describe('audit trail access', () => {
  const AUDITOR_KEY = `fk_${randomBytes(24).toString('base64url')}`;
  const USER_KEY = `fk_${randomBytes(24).toString('base64url')}`;
  let fabric: Fabric;
  let dir: string;
  const clients: Client[] = [];

  const sha256 = (text: string) => createHash('sha256').update(text).digest('hex');

  async function connectWith(key: string): Promise<Client> {
    const client = new Client({ name: 'e2e-audit-access', version: '1.0.0' }, { capabilities: {} });
    await client.connect(
      new StreamableHTTPClientTransport(new URL(fabric.mcpUrl), { requestInit: { headers: { 'x-api-key': key } } }),
    );
    clients.push(client);
    return client;
  }

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'e2e-audit-access-'));
    const keysFile = join(dir, 'keys.json');
    writeFileSync(
      keysFile,
      JSON.stringify([
        { id: 'auditor', sha256: sha256(AUDITOR_KEY), principal: 'svc:auditor', scopes: ['audit:read'] },
        { id: 'user', sha256: sha256(USER_KEY), principal: 'svc:user', scopes: [] },
      ]),
    );
    fabric = await Fabric.start({
      gateways: 2,
      gatewayEnv: { API_KEYS_FILE: keysFile },
      services: [
        { app: 'testbed-service' },
        { app: 'audit-service', env: { DATABASE_URL: `sqlite:${join(dir, 'audit.sqlite')}` } },
      ],
    });
  });

  afterAll(async () => {
    await Promise.all(clients.map((client) => client.close().catch(() => undefined)));
    await fabric?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('only a principal with audit:read sees and uses the query tool and the statistics; a refusal is itself audited', async () => {
    const auditor = await connectWith(AUDITOR_KEY);
    const user = await connectWith(USER_KEY);
    await fabric.waitForTool(auditor, 'audit_query');
    expect(await listAllTools(user)).not.toContain('audit_query');
    expect((await user.listResources()).resources.map((resource) => resource.uri)).not.toContain(STATS);
    await expect(user.callTool({ name: 'audit_query', arguments: {} })).rejects.toThrow(/audit:read/);
    await expect(user.readResource({ uri: STATS })).rejects.toThrow(/audit:read/);
    await user.callTool({ name: 'testbed_echo', arguments: { text: 'hello' } });

    const refused = await eventually(
      async () => {
        const result = await auditor.callTool({
          name: 'audit_query',
          arguments: { principal: 'svc:user', outcome: 'refused' },
        });
        const { events } = result.structuredContent as { events: { target: string; errorCode: string }[] };
        return events.length === 2 && events;
      },
      20_000,
      "the user's two refusals in the trail",
    );
    expect(refused.map((event) => [event.target, event.errorCode]).sort()).toEqual([
      ['audit://stats/tools', 'INSUFFICIENT_SCOPE'],
      ['audit_query', 'INSUFFICIENT_SCOPE'],
    ]);
    const echo = await eventually(
      async () => {
        const result = await auditor.callTool({
          name: 'audit_query',
          arguments: { principal: 'svc:user', target: 'testbed_echo' },
        });
        const { events } = result.structuredContent as { events: Record<string, unknown>[] };
        return events[0];
      },
      20_000,
      "the user's echo in the trail",
    );
    expect(echo).toMatchObject({
      outcome: 'ok',
      principal: { subject: 'svc:user', clientId: 'user' },
      service: 'testbed',
    });
    expect(echo['serviceInstance']).toEqual(expect.any(String));
    expect(await statsOf(auditor, 'testbed_echo')).toMatchObject({ count: 1 });
  });
});
