// `npm start`: builds every app, then runs the gateway and every domain service as plain Node processes
// on this machine until Ctrl-C. Configuration comes from the environment (see the README).
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const natsUrl = process.env.NATS_URL ?? 'nats://127.0.0.1:4222';
const gatewayPort = Number(process.env.PORT ?? 3000);

function canConnect(url) {
  const { hostname, port } = new URL(url.split(',')[0].replace(/^nats:/, 'http:'));
  return new Promise((resolve) => {
    const socket = net.connect({ host: hostname, port: Number(port || 4222), timeout: 2000 });
    socket.once('connect', () => socket.end(() => resolve(true)));
    socket.once('error', () => resolve(false));
    socket.once('timeout', () => socket.destroy() ?? resolve(false));
  });
}

if (!(await canConnect(natsUrl))) {
  console.error(`
MCP Fabric needs NATS with JetStream, and nothing answers at ${natsUrl}.
  - start one locally:      nats-server -js
  - or point to another:    NATS_URL=nats://host:4222 npm start
  - or run all in Docker:   docker compose -f docker/compose.yaml up
`);
  process.exit(1);
}

const services = readdirSync(path.join(root, 'apps'))
  .filter((dir) => dir.endsWith('-service'))
  .filter((dir) => {
    const project = JSON.parse(readFileSync(path.join(root, 'apps', dir, 'project.json'), 'utf8'));
    return !(project.tags ?? []).includes('role:fixture');
  })
  .sort();

console.log('building gateway and services…');
const build = spawnSync(
  'npx',
  ['nx', 'run-many', '-t', 'build', '--projects', ['gateway', ...services].join(','), '--output-style=static'],
  {
    cwd: root,
    stdio: 'inherit',
    env: { NX_DAEMON: 'false', NX_NO_CLOUD: 'true', ...process.env },
  },
);
if (build.status !== 0) process.exit(build.status ?? 1);

const children = [];
let stopping = false;

function run(app, port) {
  const main = path.join(root, 'dist/apps', app, 'main.js');
  if (!existsSync(main)) throw new Error(`${main} was not built`);
  const child = spawn(process.execPath, [main], {
    cwd: root,
    env: { ...process.env, PORT: String(port) },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const prefix = `[${app}] `;
  const relay = (stream) => (chunk) => {
    for (const line of chunk.toString().split('\n')) if (line) stream.write(prefix + line + '\n');
  };
  child.stdout.on('data', relay(process.stdout));
  child.stderr.on('data', relay(process.stderr));
  child.on('exit', (code, signal) => {
    if (stopping) return;
    console.error(`${prefix}exited (${signal ?? code}); stopping the platform`);
    stop(1);
  });
  children.push(child);
}

function stop(code = 0) {
  if (stopping) return;
  stopping = true;
  console.log('stopping (draining in-flight calls)…');
  for (const child of children) child.kill('SIGTERM');
  Promise.all(
    children.map(
      (child) => new Promise((resolve) => (child.exitCode !== null ? resolve() : child.once('exit', resolve))),
    ),
  ).then(() => process.exit(code));
}

process.on('SIGINT', () => stop(0));
process.on('SIGTERM', () => stop(0));

services.forEach((app, index) => run(app, gatewayPort + 1 + index));
run('gateway', gatewayPort);
console.log(`
MCP Fabric is starting: gateway + ${services.join(', ')}
  MCP endpoint:   http://127.0.0.1:${gatewayPort}/mcp
  health:         http://127.0.0.1:${gatewayPort}/readyz   metrics: http://127.0.0.1:${gatewayPort}/metrics
Ctrl-C stops everything.
`);
