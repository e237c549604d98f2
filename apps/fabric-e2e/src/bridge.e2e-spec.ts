import { spawn, type ChildProcess } from 'node:child_process';
import { readlinkSync } from 'node:fs';
import path from 'node:path';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { CreateMessageRequestSchema, ElicitRequestSchema } from '@modelcontextprotocol/sdk/types.js';
import { Fabric, listAllTools, textOf } from './support/fabric';
import { metricValue } from './support/metrics';
import { childPids, isRunning } from './support/process-tree';
import { AppProcess, ROOT, eventually, freePort } from './support/processes';

const EVERYTHING = path.join(ROOT, 'node_modules/@modelcontextprotocol/server-everything/dist/index.js');
const STDIO_COMMAND = `${process.execPath} ${EVERYTHING} stdio`;
const CHANGING = path.join(ROOT, 'apps/fabric-e2e/src/support/fixtures/changing-upstream.mjs');

/** Upstream processes of a bridge replica: its children, and theirs (a server may start helpers). */
function upstreamTree(bridge: AppProcess): number[] {
  const direct = childPids(bridge.child.pid!);
  return [...direct, ...direct.flatMap((pid) => childPids(pid))];
}

/** A client of the fabric whose model and user answer with `marker`. */
async function answeringClient(url: string, marker: string): Promise<Client> {
  const client = new Client({ name: marker, version: '1.0.0' }, { capabilities: { sampling: {}, elicitation: {} } });
  client.setRequestHandler(CreateMessageRequestSchema, (request) => ({
    model: 'e2e-model',
    role: 'assistant',
    content: { type: 'text', text: `${marker} answered: ${JSON.stringify(request.params.messages[0]?.content)}` },
  }));
  client.setRequestHandler(ElicitRequestSchema, () => ({ action: 'accept', content: { name: marker, check: true } }));
  await client.connect(new StreamableHTTPClientTransport(new URL(url)));
  return client;
}

const sum = (client: Client, a: number, b: number) =>
  client.callTool({ name: 'everything_get-sum', arguments: { a, b } });

describe('bridge-service: the reference server-everything (stdio), two bridge replicas behind two gateways', () => {
  let fabric: Fabric;
  let client: Client;

  beforeAll(async () => {
    fabric = await Fabric.start({
      services: [
        {
          app: 'bridge-service',
          replicas: 2,
          env: {
            BRIDGE_NAME: 'everything',
            BRIDGE_COMMAND: STDIO_COMMAND,
            BRIDGE_POOL: '2',
            BRIDGE_PING_MS: '500',
            BRIDGE_PING_TIMEOUT_MS: '1000',
            BRIDGE_RESTART_MIN_MS: '100',
          },
        },
      ],
      gateways: 2,
    });
    const connected = new Client(
      { name: 'bridge-e2e', version: '1.0.0' },
      { capabilities: { sampling: {}, elicitation: {} } },
    );
    connected.setRequestHandler(CreateMessageRequestSchema, (request) => ({
      model: 'e2e-model',
      role: 'assistant',
      content: { type: 'text', text: `answered: ${JSON.stringify(request.params.messages[0]?.content)}` },
    }));
    connected.setRequestHandler(ElicitRequestSchema, () => ({
      action: 'accept',
      content: { name: 'Ada Lovelace', check: true },
    }));
    await connected.connect(new StreamableHTTPClientTransport(new URL(fabric.mcpUrl)));
    client = connected;
    await fabric.waitForTool(client, 'everything_get-sum');
  }, 90_000);

  afterAll(async () => {
    await client?.close().catch(() => undefined);
    await fabric?.stop();
  });

  it('catalog - lists its tools with the upstream schemas and annotations untouched, its resources and prompts', async () => {
    const direct = new Client({ name: 'direct', version: '1.0.0' });
    await direct.connect(
      new StdioClientTransport({ command: process.execPath, args: [EVERYTHING, 'stdio'], stderr: 'ignore' }),
    );
    try {
      const upstream = (await direct.listTools()).tools.find((tool) => tool.name === 'echo')!;
      const { tools } = await client.listTools();
      const bridged = tools.find((tool) => tool.name === 'everything_echo')!;
      expect(bridged.inputSchema).toEqual(upstream.inputSchema);
      expect(bridged.annotations).toEqual(upstream.annotations);
      expect(bridged.description).toEqual(upstream.description);
    } finally {
      await direct.close();
    }
    const names = await listAllTools(client);
    expect(names).toEqual(
      expect.arrayContaining(['everything_echo', 'everything_get-sum', 'everything_trigger-long-running-operation']),
    );
    const { resources } = await client.listResources();
    expect(resources.length).toBeGreaterThan(0);
    const read = await client.readResource({ uri: resources[0].uri });
    expect(read.contents[0].uri).toBe(resources[0].uri);
    const { prompts } = await client.listPrompts();
    const simple = prompts.find((prompt) => prompt.name.endsWith('simple-prompt'));
    expect(simple).toBeDefined();
    const prompt = await client.getPrompt({ name: simple!.name });
    expect(prompt.messages.length).toBeGreaterThan(0);
  });

  it('tools/call - echo and get-sum answer through the bridge', async () => {
    expect(
      textOf(await client.callTool({ name: 'everything_echo', arguments: { message: 'hello fabric' } })),
    ).toContain('hello fabric');
    expect(textOf(await sum(client, 2, 40))).toBe('The sum of 2 and 40 is 42.');
  });

  it('tools/call - 50 concurrent calls are each answered with their own result', async () => {
    const pairs = Array.from({ length: 50 }, (_, index) => [index, index * 7] as const);
    const results = await Promise.all(pairs.map(([a, b]) => sum(client, a, b)));
    results.forEach((result, index) => {
      const [a, b] = pairs[index];
      expect(textOf(result)).toBe(`The sum of ${a} and ${b} is ${a + b}.`);
    });
  });

  it('progress - the long-running operation reports its steps to the calling client', async () => {
    const reports: number[] = [];
    const result = await client.callTool(
      { name: 'everything_trigger-long-running-operation', arguments: { duration: 1, steps: 4 } },
      undefined,
      { onprogress: (progress) => reports.push(progress.progress) },
    );
    expect(textOf(result)).toContain('completed');
    // In order and from this call; the last step may race the result at a loaded gateway (seen once, 1 of 4 lost).
    expect(reports.slice(0, 3)).toEqual([1, 2, 3]);
    expect(reports.every((progress, index) => progress === index + 1)).toBe(true);
  });

  it('sampling - the upstream asks the calling client model, and gets its answer', async () => {
    await fabric.waitForTool(client, 'everything_trigger-sampling-request');
    const result = await client.callTool({
      name: 'everything_trigger-sampling-request',
      arguments: { prompt: 'What is NATS?', maxTokens: 10 },
    });
    expect(result.isError).toBeFalsy();
    expect(textOf(result)).toContain('answered:');
    expect(textOf(result)).toContain('What is NATS?');
  });

  it('elicitation - the upstream asks the calling client user, and gets the answer', async () => {
    await fabric.waitForTool(client, 'everything_trigger-elicitation-request');
    const result = await client.callTool({ name: 'everything_trigger-elicitation-request', arguments: {} });
    expect(result.isError).toBeFalsy();
    expect(textOf(result)).toContain('Ada Lovelace');
  });

  it('supervision - a SIGKILLed upstream process is restarted while calls go on', async () => {
    const [replica] = fabric.replicas('bridge-service');
    const before = await eventually(
      () => {
        const pids = childPids(replica.child.pid!);
        return pids.length === 2 && pids;
      },
      15_000,
      'two upstream processes',
    );
    let stop = false;
    const load = (async () => {
      const results = [];
      for (let round = 0; !stop; round++)
        results.push(...(await Promise.all([1, 2, 3, 4].map((n) => sum(client, round, n)))));
      return results;
    })();
    process.kill(before[0], 'SIGKILL');
    await eventually(
      () => {
        const pids = childPids(replica.child.pid!);
        return pids.length === 2 && !pids.includes(before[0]);
      },
      15_000,
      'the killed upstream replaced',
    );
    stop = true;
    const results = await load;
    expect(results.length).toBeGreaterThan(0);
    expect(results.filter((result) => result.isError)).toEqual([]);
  });

  it('supervision - a hung upstream process (no ping answered) is killed and restarted', async () => {
    const [, replica] = fabric.replicas('bridge-service');
    const [hung] = await eventually(
      () => {
        const pids = childPids(replica.child.pid!);
        return pids.length === 2 && pids;
      },
      15_000,
      'two upstream processes',
    );
    // The whole group (the upstream under the shell that leads it) stops: it answers no ping.
    process.kill(-hung, 'SIGSTOP');
    await eventually(
      () => !isRunning(hung) && childPids(replica.child.pid!).length === 2,
      20_000,
      'the hung upstream replaced',
    );
    expect(textOf(await sum(client, 1, 1))).toBe('The sum of 1 and 1 is 2.');
  });

  it('back channel - concurrent sampling calls of two clients each reach their own client, never the other', async () => {
    const [ada, bob] = await Promise.all([
      answeringClient(fabric.mcpUrl, 'ada'),
      answeringClient(fabric.mcpUrl, 'bob'),
    ]);
    try {
      await Promise.all([ada, bob].map((each) => fabric.waitForTool(each, 'everything_trigger-sampling-request')));
      const ask = (each: Client, n: number) =>
        each.callTool({ name: 'everything_trigger-sampling-request', arguments: { prompt: `q${n}`, maxTokens: 5 } });
      const [adaResults, bobResults] = await Promise.all(
        [ada, bob].map((each) => Promise.all(Array.from({ length: 6 }, (_, n) => ask(each, n)))),
      );
      for (const [results, own, other] of [
        [adaResults, 'ada', 'bob'],
        [bobResults, 'bob', 'ada'],
      ] as const) {
        results.forEach((result, n) => {
          expect(textOf(result)).toContain(`${own} answered`);
          expect(textOf(result)).toContain(`q${n}`);
          expect(textOf(result)).not.toContain(`${other} answered`);
        });
      }
    } finally {
      await Promise.all([ada.close(), bob.close()]);
    }
  });

  it('supervision - when every upstream dies mid-call, a read-only call runs again, a write fails retryable', async () => {
    let release!: () => void;
    const held = new Promise<void>((resolve) => (release = resolve));
    let asked!: () => void;
    const sampling = new Promise<void>((resolve) => (asked = resolve));
    const writer = await answeringClient(fabric.mcpUrl, 'writer');
    // Its model answers only after the test has killed the upstream: the call is held there until then.
    writer.setRequestHandler(CreateMessageRequestSchema, async () => {
      asked();
      await held;
      return { model: 'm', role: 'assistant', content: { type: 'text', text: 'late' } };
    });
    try {
      await fabric.waitForTool(writer, 'everything_trigger-sampling-request');
      let progressed!: () => void;
      const running = new Promise<void>((resolve) => (progressed = resolve));
      const readOnly = client.callTool(
        { name: 'everything_trigger-long-running-operation', arguments: { duration: 2, steps: 4 } },
        undefined,
        { onprogress: () => progressed() },
      );
      const write = writer.callTool({ name: 'everything_trigger-sampling-request', arguments: { prompt: 'x' } });
      await Promise.all([running, sampling]);
      for (const pid of fabric.replicas('bridge-service').flatMap(upstreamTree)) process.kill(pid, 'SIGKILL');
      const failed = await write;
      expect(failed.isError).toBe(true);
      expect(textOf(failed)).toMatch(/stopped while serving the call/);
      expect(textOf(await readOnly)).toContain('completed');
    } finally {
      release();
      await writer.close();
    }
  });

  it('stop - a bridge stopped with SIGTERM leaves no upstream process behind', async () => {
    const replicas = fabric.replicas('bridge-service');
    const pids = replicas.flatMap(upstreamTree);
    expect(pids.length).toBeGreaterThanOrEqual(4);
    await Promise.all(replicas.map((replica) => replica.stop('SIGTERM')));
    await eventually(() => pids.every((pid) => !isRunning(pid)), 10_000, 'every upstream process gone');
  });
});

describe('bridge-service: a crash-looping upstream', () => {
  let fabric: Fabric;
  let broken: AppProcess | undefined;

  beforeAll(async () => {
    fabric = await Fabric.start({ services: [{ app: 'testbed-service' }] });
  }, 60_000);

  afterAll(async () => {
    await broken?.stop('SIGKILL');
    await fabric?.stop();
  });

  it('keeps the replica not ready and out of the catalog, and takes no other service with it', async () => {
    broken = await AppProcess.start('bridge-service', {
      ...fabric.sharedEnv,
      BRIDGE_NAME: 'broken',
      BRIDGE_COMMAND: `${process.execPath} -e "process.exit(3)"`,
      BRIDGE_RESTART_MIN_MS: '50',
      BRIDGE_RESTART_MAX_MS: '200',
      BRIDGE_CONNECT_TIMEOUT_MS: '2000',
    });
    const { client } = await fabric.connect();
    await eventually(
      async () => (await fetch(`${broken!.url}/healthz`).catch(() => undefined))?.ok,
      20_000,
      'broken bridge up',
    );
    // It restarts its upstream again and again, never ready, never listed; the testbed stays.
    await eventually(() => broken!.logs().split('restarting in').length > 4, 20_000, 'several restarts');
    expect((await fetch(`${broken.url}/readyz`)).status).toBe(503);
    expect(broken.running).toBe(true);
    const names = await listAllTools(client);
    expect(names.some((name) => name.startsWith('broken_'))).toBe(false);
    expect(names).toContain('testbed_echo');
    expect(childPids(broken.child.pid!).length).toBeLessThanOrEqual(2);
  });
});

describe('bridge-service: draining', () => {
  let fabric: Fabric;

  beforeAll(async () => {
    fabric = await Fabric.start({
      services: [
        { app: 'bridge-service', env: { BRIDGE_NAME: 'everything', BRIDGE_COMMAND: STDIO_COMMAND, BRIDGE_POOL: '1' } },
      ],
    });
  }, 60_000);

  afterAll(() => fabric?.stop());

  it('SIGTERM finishes the call under way, then closes the upstream', async () => {
    const { client } = await fabric.connect();
    await fabric.waitForTool(client, 'everything_trigger-long-running-operation');
    const [bridge] = fabric.replicas('bridge-service');
    const pids = upstreamTree(bridge);
    expect(pids.length).toBeGreaterThan(0);
    let progressed!: () => void;
    const running = new Promise<void>((resolve) => (progressed = resolve));
    const call = client.callTool(
      { name: 'everything_trigger-long-running-operation', arguments: { duration: 2, steps: 4 } },
      undefined,
      { onprogress: () => progressed() },
    );
    await running;
    const stopped = bridge.stop('SIGTERM');
    expect(textOf(await call)).toContain('completed');
    expect(await stopped).toBe(0);
    expect(pids.filter(isRunning)).toEqual([]);
  });

  it('a SIGKILLed bridge takes its upstreams with it, even what they started that ignores stdin', async () => {
    const bridge = await fabric.startService('bridge-service', {
      BRIDGE_NAME: 'lifeline',
      BRIDGE_COMMAND: `sh -c "sleep 300 & exec ${process.execPath} ${EVERYTHING} stdio"`,
    });
    // Each upstream leads a process group of its own (its `sleep` in it): signal 0 to it says whether any of it runs.
    const groupAlive = (pid: number) => {
      try {
        process.kill(-pid, 0);
        return true;
      } catch {
        return false;
      }
    };
    const groups = await eventually(
      () => {
        const pids = childPids(bridge.child.pid!);
        return pids.length === 2 && pids.every(groupAlive) && pids;
      },
      15_000,
      'two upstream groups',
    );
    await bridge.stop('SIGKILL');
    await eventually(() => groups.every((pid) => !groupAlive(pid)), 10_000, 'every upstream group gone');
  });
});

describe('bridge-service: a Streamable HTTP upstream', () => {
  let fabric: Fabric;
  let upstream: ChildProcess;

  beforeAll(async () => {
    const port = await freePort();
    upstream = spawn(process.execPath, [EVERYTHING, 'streamableHttp'], {
      env: { ...process.env, PORT: String(port) },
      stdio: 'ignore',
    });
    await eventually(
      async () => (await fetch(`http://127.0.0.1:${port}/mcp`, { method: 'GET' }).catch(() => undefined)) !== undefined,
      15_000,
      'the HTTP upstream listening',
    );
    fabric = await Fabric.start({
      // The edge cache keeps entries only beside a shared level (as in cache.e2e-spec).
      env: { REDIS_URL: process.env['REDIS_URL'] ?? 'redis://127.0.0.1:6379' },
      services: [
        {
          app: 'bridge-service',
          env: {
            BRIDGE_NAME: 'remote',
            BRIDGE_URL: `http://127.0.0.1:${port}/mcp`,
            BRIDGE_HEADERS: JSON.stringify({ authorization: 'Bearer e2e-secret' }),
            BRIDGE_CACHE: JSON.stringify({ 'get-*': { ttlMs: 60_000 } }),
          },
        },
      ],
    });
  }, 60_000);

  afterAll(async () => {
    await fabric?.stop();
    upstream?.kill('SIGKILL');
  });

  it('lists and calls its tools through the fabric', async () => {
    const { client } = await fabric.connect();
    await fabric.waitForTool(client, 'remote_get-sum');
    expect(textOf(await sum2(client))).toBe('The sum of 20 and 22 is 42.');
    expect(fabric.replicas('bridge-service')[0].logs()).not.toContain('e2e-secret');
  });

  it('cache - the operator policy of BRIDGE_CACHE applies: a repeated read-only call is answered by the gateway', async () => {
    const { client } = await fabric.connect();
    await fabric.waitForTool(client, 'remote_get-sum');
    const { tools } = await client.listTools();
    expect(tools.find((tool) => tool.name === 'remote_get-sum')?.annotations?.readOnlyHint).toBe(true);
    const [bridge] = fabric.replicas('bridge-service');
    const served = () =>
      metricValue(bridge.url, 'fabric_service_calls_total', { operation: 'tools.call', name: 'get-sum' });
    const before = await served();
    const first = textOf(await client.callTool({ name: 'remote_get-sum', arguments: { a: 1, b: 2 } }));
    for (let i = 0; i < 5; i++)
      expect(textOf(await client.callTool({ name: 'remote_get-sum', arguments: { a: 1, b: 2 } }))).toBe(first);
    expect(await served()).toBe(before + 1);
    expect(await metricValue(fabric.gateway.url, 'fabric_cache_hits_total')).toBeGreaterThanOrEqual(5);
  });
});

const sum2 = (client: Client) => client.callTool({ name: 'remote_get-sum', arguments: { a: 20, b: 22 } });

describe('bridge-service: two bridges side by side, one whose upstream changes its tools', () => {
  let fabric: Fabric;
  let client: Client;

  beforeAll(async () => {
    fabric = await Fabric.start({
      services: [
        {
          app: 'bridge-service',
          env: { BRIDGE_NAME: 'everything', BRIDGE_COMMAND: STDIO_COMMAND, BRIDGE_ENV_GREETING: 'hello upstream' },
        },
        // One process: the tool it adds exists in that process only.
        { app: 'bridge-service', env: { BRIDGE_NAME: 'changing', BRIDGE_COMMAND: `${process.execPath} ${CHANGING}` } },
      ],
    });
    ({ client } = await fabric.connect());
  });

  afterAll(async () => {
    await fabric?.stop();
  });

  it('list_changed - a tool the upstream adds appears in the catalog and answers, beside the other bridge', async () => {
    await fabric.waitForTool(client, 'changing_add_tool');
    await fabric.waitForTool(client, 'everything_echo');
    const added = await client.callTool({ name: 'changing_add_tool', arguments: {} });
    expect(textOf(added)).toBe('added_1');
    await eventually(async () => (await listAllTools(client)).includes('changing_added_1'), 10_000, 'added_1');
    expect(textOf(await client.callTool({ name: 'changing_added_1', arguments: {} }))).toBe('added_1 answered');
    // The other bridge's tools stay as they were.
    expect(textOf(await client.callTool({ name: 'everything_echo', arguments: { message: 'still here' } }))).toContain(
      'still here',
    );
  });

  it('environment - the upstream gets BRIDGE_ENV_* without the prefix, none of the fabric settings, a directory of its own', async () => {
    await fabric.waitForTool(client, 'everything_get-env');
    const env = JSON.parse(textOf(await client.callTool({ name: 'everything_get-env', arguments: {} })));
    expect(env['GREETING']).toBe('hello upstream');
    expect(env['NATS_URL']).toBeUndefined();
    expect(env['FABRIC_NAMESPACE']).toBeUndefined();
    expect(env['BRIDGE_NAME']).toBeUndefined();
    const bridge = fabric.processes.find((process) => process.app === 'bridge-service')!;
    const [upstream] = childPids(bridge.child.pid!)
      .flatMap((pid) => [pid, ...childPids(pid)])
      .filter((pid) => readlinkSync(`/proc/${pid}/cwd`).includes('mcp-bridge-'));
    expect(upstream).toBeDefined();
  });
});
