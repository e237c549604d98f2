// A private nats-server (with JetStream, in a temporary directory) for a measurement that must pin NATS
// with the other servers and count its CPU; the machine's own nats-server is never touched.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { BenchProcess, freePort } from './processes.mjs';

/** Starts `nats-server -js` on a free port, pinned to `cpuList` when given; `stop()` kills it and removes its store. */
export async function startNatsServer({ cpuList } = {}) {
  const port = await freePort();
  const storeDir = mkdtempSync(path.join(tmpdir(), 'fabric-bench-nats-'));
  const server = BenchProcess.spawn({
    name: 'nats-server',
    command: process.env.NATS_SERVER_BIN ?? 'nats-server',
    args: ['-a', '127.0.0.1', '-p', String(port), '-js', '-sd', storeDir],
    port,
    cpuList,
  });
  const stop = async () => {
    await server.kill();
    rmSync(storeDir, { recursive: true, force: true });
  };
  try {
    await server.listening(10_000);
  } catch (error) {
    await stop();
    throw error;
  }
  return { process: server, url: `nats://127.0.0.1:${port}`, stop };
}
