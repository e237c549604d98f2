// What the benchmarks compare: the fabric and single-process MCP servers, each with the same `echo` tool
// (input `{ text }`, result the same text as one text item), started fresh from this repository.
import path from 'node:path';
import { startFabric } from './fabric.mjs';
import { startNatsServer } from './nats-server.mjs';
import { BenchProcess, ROOT, freePort } from './processes.mjs';

const PEERS = path.join(ROOT, 'bench/peers');

/** A peer: one server process (and what it spawns) on a free port, answering MCP at /mcp. */
export async function startPeer({ name, script, args = [], env = {}, cpuList, portArgs }) {
  const port = await freePort();
  const server = BenchProcess.spawn({
    name,
    command: process.execPath,
    args: [script, ...(portArgs ? portArgs(port) : []), ...args],
    env: { ...env, PORT: String(port) },
    port,
    cpuList,
  });
  try {
    await server.listening();
  } catch (error) {
    await server.kill();
    throw error;
  }
  return { url: `${server.url}/mcp`, processes: [server], stop: () => server.kill() };
}

/**
 * The fabric as the peers scenario runs it: a private nats-server pinned with the other servers (its CPU
 * counts, the machine's is left alone), one service replica (by default the testbed app, named `bench`),
 * one gateway; `env` goes to both, `serviceEnv`/`gatewayEnv` to one. Returns the MCP URL, the processes
 * and `stop()`.
 */
export async function startFabricSetup({
  cpuList,
  namespace,
  layout,
  env = {},
  app = 'testbed-service',
  service = 'bench',
  serviceEnv = { TESTBED_SERVICE_NAME: 'bench' },
  gatewayEnv = {},
}) {
  const nats = await startNatsServer({ cpuList });
  try {
    const fabric = await startFabric({
      app,
      service,
      replicas: 1,
      namespace,
      layout,
      natsUrl: nats.url,
      serviceEnv: { HEARTBEAT_MS: '500', ...serviceEnv, ...env },
      gatewayEnv: { DISCOVERY_WAIT_MS: '1000', ...gatewayEnv, ...env },
    });
    return {
      url: fabric.mcpUrl,
      processes: [fabric.gateway, ...fabric.services, nats.process],
      gateway: fabric.gateway,
      service: fabric.services[0],
      nats: nats.process,
      stop: () => fabric.stop().finally(nats.stop),
    };
  } catch (error) {
    await nats.stop();
    throw error;
  }
}

/** What is compared: the fabric first, then its peers; `tool` is the echo tool's name as each lists it. */
export const SETUPS = [
  {
    name: 'fabric',
    text: 'MCP Fabric: gateway → NATS → service (1 replica each, nats-server included)',
    tool: 'bench_echo',
    start: (options) => startFabricSetup(options),
  },
  {
    name: 'fabric-2026',
    text: 'the same fabric, its clients on the stateless revision 2026-07-28 (no session; envelope and headers on every call)',
    tool: 'bench_echo',
    stateless: true,
    start: (options) => startFabricSetup(options),
  },
  {
    name: 'fabric-warn',
    text: 'the same fabric at LOG_LEVEL=warn (no access lines): what the default logging costs',
    tool: 'bench_echo',
    start: (options) => startFabricSetup({ ...options, env: { LOG_LEVEL: 'warn' } }),
  },
  {
    name: 'sdk-stateful',
    text: '`@modelcontextprotocol/sdk` server as the SDK documents it: `createMcpExpressApp()`, one transport per session, default (SSE) answers',
    tool: 'echo',
    start: ({ cpuList }) =>
      startPeer({ name: 'sdk-stateful', script: path.join(PEERS, 'sdk-echo.mjs'), env: { MODE: 'stateful' }, cpuList }),
  },
  {
    name: 'sdk-stateful-bare',
    text: 'the same SDK server on bare `node:http` (no Express, body parsed once): the leanest SDK server',
    tool: 'echo',
    start: ({ cpuList }) =>
      startPeer({
        name: 'sdk-stateful-bare',
        script: path.join(PEERS, 'sdk-echo.mjs'),
        env: { MODE: 'stateful', HTTP: 'bare' },
        cpuList,
      }),
  },
  {
    name: 'sdk-stateless',
    text: '`@modelcontextprotocol/sdk` server as documented for stateless use: a new server and transport per request (Express)',
    tool: 'echo',
    start: ({ cpuList }) =>
      startPeer({
        name: 'sdk-stateless',
        script: path.join(PEERS, 'sdk-echo.mjs'),
        env: { MODE: 'stateless' },
        cpuList,
      }),
  },
  {
    name: 'fastmcp',
    text: 'fastmcp, httpStream (stateful, its defaults)',
    tool: 'echo',
    start: ({ cpuList }) => startPeer({ name: 'fastmcp', script: path.join(PEERS, 'fastmcp-echo.mjs'), cpuList }),
  },
  {
    name: 'mcp-proxy',
    text: 'mcp-proxy (stream server, its defaults) over a stdio SDK server',
    tool: 'echo',
    start: ({ cpuList }) =>
      startPeer({
        name: 'mcp-proxy',
        script: path.join(ROOT, 'node_modules/mcp-proxy/dist/bin/mcp-proxy.mjs'),
        portArgs: (port) => ['--port', String(port), '--host', '127.0.0.1', '--server', 'stream', '--endpoint', '/mcp'],
        args: ['--', process.execPath, path.join(PEERS, 'stdio-echo.mjs')],
        cpuList,
      }),
  },
];
