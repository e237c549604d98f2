import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { listAllTools } from './support/fabric';
import { isRunning } from './support/process-tree';
import { ROOT, eventually, freePort } from './support/processes';

/** True when nothing listens on `port` of 127.0.0.1 (so that an app may take it). */
function isFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = net.createServer();
    server.once('error', () => resolve(false));
    server.listen(port, '127.0.0.1', () => server.close(() => resolve(true)));
  });
}

/** A port such that it and the next `count - 1` are free: `npm start` gives the services the ports after the gateway's. */
async function freePortRange(count: number): Promise<number> {
  return eventually(
    async () => {
      const base = await freePort();
      for (let port = base; port < base + count; port++) if (!(await isFree(port))) return undefined;
      return base;
    },
    10_000,
    'a free port range',
  );
}

// `npm start` on a machine where nothing listens on NATS_URL: it runs a private nats-server for the
// platform's lifetime, the platform serves, and Ctrl-C leaves no process behind.
describe('npm start with no NATS running', () => {
  let start: ChildProcess | undefined;
  const output: string[] = [];
  const store = mkdtempSync(path.join(tmpdir(), 'fabric-start-'));

  afterAll(() => {
    if (start?.exitCode === null) start.kill('SIGKILL');
    rmSync(store, { recursive: true, force: true });
  });

  it('starts a private nats-server, serves the tools, and stops it with the platform on Ctrl-C', async () => {
    const natsPort = await freePort();
    const port = await freePortRange(8);
    const natsUrl = `nats://127.0.0.1:${natsPort}`;
    start = spawn(process.execPath, [path.join(ROOT, 'tools/scripts/start.mjs'), '--no-build'], {
      cwd: ROOT,
      env: { ...process.env, NATS_URL: natsUrl, PORT: String(port), NATS_STORE_DIR: store, LOG_LEVEL: 'warn' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    start.stdout?.on('data', (chunk: Buffer) => output.push(chunk.toString()));
    start.stderr?.on('data', (chunk: Buffer) => output.push(chunk.toString()));

    const natsPid = await eventually(
      () => {
        const line = /private nats-server -js \(pid (\d+)\)/.exec(output.join(''));
        return line ? Number(line[1]) : undefined;
      },
      20_000,
      `the private nats-server line in:\n${output.join('')}`,
    );
    expect(isRunning(natsPid)).toBe(true);

    const client = new Client({ name: 'start-spec', version: '1.0.0' });
    await eventually(
      async () => (await fetch(`http://127.0.0.1:${port}/readyz`).catch(() => undefined))?.status === 200,
      60_000,
      'the gateway ready',
    );
    await client.connect(new StreamableHTTPClientTransport(new URL(`http://127.0.0.1:${port}/mcp`)));
    // Ready as soon as one service has announced: wait for the knowledge service's tools.
    await eventually(async () => (await listAllTools(client)).includes('knowledge_read_graph'), 30_000, 'tools');
    const graph = await client.callTool({ name: 'knowledge_read_graph', arguments: {} });
    expect(graph.isError).toBeFalsy();
    await client.close();

    const exited = new Promise<number | null>((resolve) => start!.once('exit', (code) => resolve(code)));
    start.kill('SIGINT');
    expect(await exited).toBe(0);
    await eventually(() => !isRunning(natsPid), 10_000, 'the private nats-server gone');
  });
});
