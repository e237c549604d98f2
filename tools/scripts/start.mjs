// `npm start`: builds every app (unless `--no-build`), starts a private nats-server when nothing listens on
// NATS_URL, then runs the gateway and every domain service as plain Node processes
// on this machine until Ctrl-C. Configuration comes from the environment (see the README).
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync } from 'node:fs';
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

/** `nats-server` from `NATS_SERVER_BIN`, else the first on `PATH`; undefined when there is none. */
function findNatsServer() {
  if (process.env.NATS_SERVER_BIN)
    return existsSync(process.env.NATS_SERVER_BIN) ? process.env.NATS_SERVER_BIN : undefined;
  for (const dir of (process.env.PATH ?? '').split(path.delimiter)) {
    const candidate = path.join(dir, 'nats-server');
    if (dir && existsSync(candidate)) return candidate;
  }
  return undefined;
}

/** Polls until `check` resolves true, or fails after `timeoutMs`. */
async function waitFor(check, timeoutMs, what) {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`${what} did not happen within ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

// Nothing listens on NATS_URL: run a private JetStream server for as long as the platform runs, its store
// under data/ (or NATS_STORE_DIR), on NATS_URL's host and port.
let privateNats;
if (!(await canConnect(natsUrl))) {
  const bin = findNatsServer();
  const { hostname, port } = new URL(natsUrl.split(',')[0].replace(/^nats:/, 'http:'));
  const local = ['127.0.0.1', 'localhost'].includes(hostname);
  if (!bin || !local) {
    console.error(
      `MCP Fabric needs NATS with JetStream and nothing answers at ${natsUrl}: ` +
        (local
          ? 'install nats-server (Debian: apt-get install nats-server) or set NATS_SERVER_BIN, and npm start runs one; or point NATS_URL at a running one.'
          : 'start it, or point NATS_URL at a running one.'),
    );
    process.exit(1);
  }
  const storeDir = process.env.NATS_STORE_DIR ?? path.join(root, 'data', 'nats');
  mkdirSync(storeDir, { recursive: true });
  // Its own process group: a Ctrl-C in the terminal must not stop it before the apps have drained off it.
  privateNats = spawn(bin, ['-js', '-a', '127.0.0.1', '-p', String(port || 4222), '-sd', storeDir], {
    stdio: ['ignore', 'ignore', 'pipe'],
    detached: true,
  });
  process.on('exit', () => privateNats.exitCode === null && privateNats.kill('SIGTERM'));
  let natsErrors = '';
  privateNats.stderr.on('data', (chunk) => (natsErrors = (natsErrors + chunk).slice(-2000)));
  const exited = new Promise((resolve) => privateNats.once('exit', () => resolve(true)));
  try {
    await waitFor(
      async () => (await canConnect(natsUrl)) || (await Promise.race([exited, false])),
      10_000,
      'nats-server start',
    );
  } catch (error) {
    privateNats.kill('SIGKILL');
    throw error;
  }
  if (privateNats.exitCode !== null) {
    console.error(`nats-server (${bin}) exited at start:\n${natsErrors}`);
    process.exit(1);
  }
  console.log(`started a private nats-server -js (pid ${privateNats.pid}) on ${natsUrl}, store in ${storeDir}`);
}

const services = readdirSync(path.join(root, 'apps'))
  .filter((dir) => dir.endsWith('-service'))
  .filter((dir) => {
    const project = JSON.parse(readFileSync(path.join(root, 'apps', dir, 'project.json'), 'utf8'));
    const tags = project.tags ?? [];
    // A bridge serves the MCP server its BRIDGE_* settings name: with none, there is nothing to bridge.
    if (tags.includes('role:bridge')) return Boolean(process.env.BRIDGE_NAME);
    return !tags.includes('role:fixture');
  })
  .sort();

// `npm start -- --no-build` runs what `npm run build` built last.
if (!process.argv.includes('--no-build')) {
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
  if (build.status !== 0) {
    privateNats?.kill('SIGTERM');
    process.exit(build.status ?? 1);
  }
}

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
  )
    .then(() => stopPrivateNats())
    .then(() => process.exit(code));
}

/** Stops the private NATS (after every app has drained off it), waiting for it to exit. */
function stopPrivateNats() {
  if (!privateNats || privateNats.exitCode !== null) return Promise.resolve();
  const exited = new Promise((resolve) => privateNats.once('exit', resolve));
  privateNats.kill('SIGTERM');
  return exited;
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
