import { createHash, randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CallToolResultSchema, McpError, type Progress } from '@modelcontextprotocol/sdk/types.js';
import { connect } from 'nats';
import { TaskRecordSchema, taskStorage, type TaskRecord } from '@fabric/contracts';
import { Fabric } from './support/fabric';
import { metricValue } from './support/metrics';
import { eventually, type AppProcess } from './support/processes';
import { McpExchange, type RpcMessage } from './support/sse';

const RELATED_TASK = 'io.modelcontextprotocol/related-task';
const JOB = 'testbed_long_job';

/** Raw MCP over HTTP against one gateway at a time: each step is known to have reached the replica it names. */
class RawSession {
  private static nextId = 1;

  private constructor(readonly headers: Record<string, string>) {}

  static async open(url: string, headers: Record<string, string> = {}): Promise<RawSession> {
    const init = await McpExchange.open('POST', url, headers, {
      jsonrpc: '2.0',
      id: 0,
      method: 'initialize',
      params: { protocolVersion: '2025-11-25', capabilities: {}, clientInfo: { name: 'e2e-tasks', version: '1' } },
    });
    expect((await init.next())?.result).toBeDefined();
    const session = new RawSession({
      ...headers,
      'mcp-session-id': init.response.headers.get('mcp-session-id')!,
      'mcp-protocol-version': '2025-11-25',
    });
    const initialized = await McpExchange.open('POST', url, session.headers, {
      jsonrpc: '2.0',
      method: 'notifications/initialized',
    });
    expect(initialized.status).toBe(202);
    return session;
  }

  /** The response to one request (the last message of its exchange). */
  async request(url: string, method: string, params: object, timeoutMs = 30_000): Promise<RpcMessage> {
    const exchange = await McpExchange.open('POST', url, this.headers, {
      jsonrpc: '2.0',
      id: RawSession.nextId++,
      method,
      params,
    });
    const messages = await exchange.rest(timeoutMs);
    const response = messages.find((message) => message.id !== undefined && !message.method);
    if (!response) throw new Error(`no response to ${method}: ${JSON.stringify(messages)}`);
    return response;
  }

  /** Creates a task of testbed_long_job; its id. */
  async createJob(url: string, args: { steps: number; ms: number }, meta?: object): Promise<string> {
    const created = await this.request(url, 'tools/call', {
      name: JOB,
      arguments: args,
      task: { ttl: 120_000 },
      ...(meta ? { _meta: meta } : {}),
    });
    expect(created.error).toBeUndefined();
    const task = created.result?.['task'] as { taskId: string; status: string };
    expect(task.status).toBe('working');
    return task.taskId;
  }
}

const textOf = (result: Record<string, unknown> | undefined) =>
  ((result?.['content'] as { text?: string }[] | undefined) ?? []).map((block) => block.text ?? '').join('');

/** A task's record as stored in the task bucket (the fabric's own fields included: `attempt`). */
async function recordOf(fabric: Fabric, taskId: string): Promise<TaskRecord | undefined> {
  const connection = await connect({ servers: process.env['NATS_URL'] ?? 'nats://127.0.0.1:4222' });
  try {
    const kv = await connection.jetstream().views.kv(taskStorage(fabric.namespace).bucket, { bindOnly: true });
    const keys: string[] = [];
    for await (const key of await kv.keys(`*.${taskId}`)) keys.push(key);
    if (keys.length !== 1) return undefined;
    const entry = await kv.get(keys[0]);
    return entry ? TaskRecordSchema.parse(entry.json()) : undefined;
  } finally {
    await connection.close();
  }
}

/** The testbed replica running a task now (its `fabric_service_tasks_running` gauge at 1). */
function runningOn(replicas: AppProcess[]): Promise<AppProcess> {
  return eventually(
    async () => {
      for (const replica of replicas) {
        if (replica.running && (await metricValue(replica.url, 'fabric_service_tasks_running')) >= 1) return replica;
      }
      return undefined;
    },
    15_000,
    'a testbed replica to run the task',
  );
}

describe('MCP tasks through two gateways and two testbed replicas', () => {
  let fabric: Fabric;
  let a: string;
  let b: string;

  beforeAll(async () => {
    fabric = await Fabric.start({
      services: [{ app: 'testbed-service', replicas: 2, env: { TASK_ACK_WAIT_MS: '1500' } }],
      gateways: 2,
    });
    [a, b] = fabric.gateways.map((gateway) => `${gateway.url}/mcp`);
  }, 60_000);

  afterAll(() => fabric?.stop());

  it("the SDK client's experimental tasks API runs a tool as a task to its result, with its progress", async () => {
    const { client } = await fabric.connect('e2e-tasks-sdk');
    const tools = await client.listTools();
    expect(tools.tools.find((tool) => tool.name === JOB)?.execution).toEqual({ taskSupport: 'optional' });

    const progress: Progress[] = [];
    const seen: string[] = [];
    let taskId: string | undefined;
    let result: unknown;
    for await (const message of client.experimental.tasks.callToolStream(
      { name: JOB, arguments: { steps: 3, ms: 100 } },
      CallToolResultSchema,
      { task: { ttl: 60_000 }, onprogress: (update) => progress.push(update), timeout: 30_000 },
    )) {
      seen.push(message.type);
      if (message.type === 'taskCreated') taskId = message.task.taskId;
      if (message.type === 'result') result = message.result;
      if (message.type === 'error') throw message.error;
    }
    expect(seen[0]).toBe('taskCreated');
    expect(seen.at(-1)).toBe('result');
    expect(textOf(result as Record<string, unknown>)).toMatch(/^done 3 steps by \d+/);
    // Progress travels on the session's GET stream, independently of the polling.
    await eventually(() => progress.length >= 1, 10_000, 'progress of the task');

    const task = await client.experimental.tasks.getTask(taskId!);
    expect(task).toMatchObject({ taskId, status: 'completed', ttl: 60_000, pollInterval: expect.any(Number) });
    const again = await client.experimental.tasks.getTaskResult(taskId!, CallToolResultSchema);
    expect(again._meta?.[RELATED_TASK]).toEqual({ taskId });
    const listed = await client.experimental.tasks.listTasks();
    expect(listed.tasks.map((listedTask) => listedTask.taskId)).toContain(taskId);
    const refused = await client.experimental.tasks.cancelTask(taskId!).catch((error: unknown) => error);
    expect(refused).toBeInstanceOf(McpError);
    expect((refused as McpError).code).toBe(-32602);
  });

  it('taskSupport: a tool that forbids tasks refuses one, a tool that requires one refuses a plain call (-32601)', async () => {
    const session = await RawSession.open(a);
    // Both paths: the direct one (a plain call) and the SDK's (a task).
    const plain = await session.request(a, 'tools/call', {
      name: 'testbed_task_only_job',
      arguments: { steps: 1, ms: 1 },
    });
    expect(plain.error).toMatchObject({ code: -32601, message: expect.stringMatching(/must be called as a task/) });
    const asTask = await session.request(a, 'tools/call', {
      name: 'testbed_task_only_job',
      arguments: { steps: 1, ms: 1 },
      task: {},
    });
    expect(asTask.result?.['task']).toMatchObject({ status: 'working' });
    const invalid = await session.request(a, 'tools/call', { name: JOB, arguments: { steps: 'x' }, task: {} });
    expect(invalid.error?.code).toBe(-32602);
    const forbidden = await session.request(a, 'tools/call', {
      name: 'testbed_stats',
      arguments: {},
      task: {},
    });
    expect(forbidden.error?.code).toBe(-32601);
    const initialize = await McpExchange.open(
      'POST',
      a,
      {},
      {
        jsonrpc: '2.0',
        id: 0,
        method: 'initialize',
        params: { protocolVersion: '2025-11-25', capabilities: {}, clientInfo: { name: 'caps', version: '1' } },
      },
    );
    expect((await initialize.next())?.result?.['capabilities']).toMatchObject({
      tasks: { list: {}, cancel: {}, requests: { tools: { call: {} } } },
    });
  });

  it('notifications/tasks/status and the progress of a task reach the session, in order, on whichever replica holds its GET stream', async () => {
    const session = await RawSession.open(a);
    const stream = await McpExchange.open('GET', b, session.headers);
    expect(stream.status).toBe(200);
    const taskId = await session.createJob(a, { steps: 5, ms: 30 }, { progressToken: 'job-progress' });
    const received: RpcMessage[] = [];
    await eventually(
      async () => {
        const message = await stream.next(15_000);
        if (message) received.push(message);
        return received.some(
          (seen) => seen.method === 'notifications/tasks/status' && seen.params?.['status'] === 'completed',
        );
      },
      20_000,
      'the completed status on the GET stream',
    );
    stream.close();
    const completed = received.find((message) => message.params?.['status'] === 'completed');
    expect(completed?.params).toMatchObject({ taskId, createdAt: expect.any(String), ttl: 120_000 });
    const progress = received.filter((message) => message.method === 'notifications/progress');
    expect(progress.map((message) => message.params?.['progress'])).toEqual([1, 2, 3, 4, 5]);
    expect(progress[0].params).toMatchObject({ progressToken: 'job-progress', _meta: { [RELATED_TASK]: { taskId } } });
    // The handler reported its last step before it ended: the status comes after it.
    expect(received.indexOf(completed!)).toBeGreaterThan(received.indexOf(progress[4]));
  });

  it('another session cannot read, wait for, cancel or list a task', async () => {
    const owner = await RawSession.open(a);
    const other = await RawSession.open(b);
    const taskId = await owner.createJob(a, { steps: 2, ms: 50 });
    for (const method of ['tasks/get', 'tasks/result', 'tasks/cancel']) {
      const answer = await other.request(b, method, { taskId });
      expect(answer.error).toMatchObject({ code: -32602, message: expect.stringMatching(/not found/i) });
    }
    const listed = await other.request(b, 'tasks/list', {});
    expect((listed.result?.['tasks'] as { taskId: string }[]).map((task) => task.taskId)).not.toContain(taskId);
    const mine = await owner.request(b, 'tasks/list', {});
    expect((mine.result?.['tasks'] as { taskId: string }[]).map((task) => task.taskId)).toContain(taskId);
    // A made-up id is not found either, and a malformed one is no KV wildcard.
    for (const bogus of [randomBytes(16).toString('base64url'), '>', '*']) {
      expect((await owner.request(b, 'tasks/get', { taskId: bogus })).error?.code).toBe(-32602);
    }
    const result = await owner.request(b, 'tasks/result', { taskId });
    expect(textOf(result.result)).toMatch(/^done 2 steps by \d+/);
  });

  it('tasks/cancel stops the handler on the replica running it; the task stays cancelled', async () => {
    const session = await RawSession.open(a);
    const taskId = await session.createJob(a, { steps: 100, ms: 200 });
    const replica = await runningOn(fabric.replicas('testbed-service'));
    const cancelled = await session.request(b, 'tasks/cancel', { taskId });
    expect(cancelled.result).toMatchObject({ taskId, status: 'cancelled' });
    await eventually(
      async () => (await metricValue(replica.url, 'fabric_service_tasks_running')) === 0,
      10_000,
      'the handler to stop',
    );
    expect((await session.request(a, 'tasks/get', { taskId })).result).toMatchObject({ status: 'cancelled' });
    const result = await session.request(a, 'tasks/result', { taskId });
    expect(result.result).toMatchObject({ isError: true, _meta: { [RELATED_TASK]: { taskId } } });
    expect((await session.request(b, 'tasks/cancel', { taskId })).error?.code).toBe(-32602);
  });

  // Last: it kills one gateway and one testbed replica.
  it('a task survives the death of the replica working it and of the gateway that accepted it', async () => {
    const session = await RawSession.open(a);
    const taskId = await session.createJob(a, { steps: 20, ms: 250 });
    const replicas = fabric.replicas('testbed-service');
    const working = await runningOn(replicas);
    const survivor = replicas.find((replica) => replica !== working)!;
    await Promise.all([working.stop('SIGKILL'), fabric.gateways[0].stop('SIGKILL')]);

    const result = await session.request(b, 'tasks/result', { taskId }, 60_000);
    expect(result.error).toBeUndefined();
    expect(textOf(result.result)).toContain(`done 20 steps by ${survivor.child.pid}`);
    expect(result.result?.['structuredContent']).toMatchObject({ pid: survivor.child.pid, attempt: 2 });
    expect(await recordOf(fabric, taskId)).toMatchObject({ status: 'completed', attempt: 2 });
  }, 90_000);
});

describe('MCP tasks belong to their principal', () => {
  let fabric: Fabric;
  let dir: string;
  const keys = { ada: `ada-${randomBytes(12).toString('hex')}`, bob: `bob-${randomBytes(12).toString('hex')}` };

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'e2e-tasks-'));
    const keysFile = join(dir, 'keys.json');
    writeFileSync(
      keysFile,
      JSON.stringify(
        Object.entries(keys).map(([name, key]) => ({
          id: name,
          sha256: createHash('sha256').update(key).digest('hex'),
          principal: `user:${name}`,
          scopes: [],
        })),
      ),
    );
    fabric = await Fabric.start({ gatewayEnv: { API_KEYS_FILE: keysFile }, services: [{ app: 'testbed-service' }] });
  }, 60_000);

  afterAll(async () => {
    await fabric?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it("another principal gets not found; the same principal's other session sees the task", async () => {
    const url = fabric.mcpUrl;
    const ada = await RawSession.open(url, { 'x-api-key': keys.ada });
    const adaAgain = await RawSession.open(url, { 'x-api-key': keys.ada });
    const bob = await RawSession.open(url, { 'x-api-key': keys.bob });
    const taskId = await ada.createJob(url, { steps: 1, ms: 10 });
    for (const method of ['tasks/get', 'tasks/result', 'tasks/cancel']) {
      expect((await bob.request(url, method, { taskId })).error?.code).toBe(-32602);
    }
    const listed = await bob.request(url, 'tasks/list', {});
    expect(listed.result?.['tasks']).toEqual([]);
    const result = await adaAgain.request(url, 'tasks/result', { taskId });
    expect(textOf(result.result)).toMatch(/^done 1 steps by \d+/);
  });
});
