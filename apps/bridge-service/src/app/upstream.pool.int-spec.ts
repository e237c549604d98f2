import path from 'node:path';
import { eventuallyValue } from '@fabric/platform-nats/testing';
import { detachedCallContext } from '@fabric/service-kit';
import { loadBridgeConfig } from './bridge.config';
import { UpstreamLostError } from './bridge.errors';
import { UpstreamPool } from './upstream.pool';

const EVERYTHING = path.resolve(
  __dirname,
  '../../../../node_modules/@modelcontextprotocol/server-everything/dist/index.js',
);

function isRunning(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** Each group is led by its upstream: signal 0 to the group says whether anything of it (the helper) still runs. */
function groupAlive(pid: number): boolean {
  try {
    process.kill(-pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** A pool over server-everything started by a shell that first leaves a helper (`sleep`) in its process group. */
function poolWithHelper(pool = 1) {
  const config = loadBridgeConfig({
    BRIDGE_NAME: 'everything',
    // `$$`: the shell's pid, which `exec` hands to node; the helper's pid goes to stderr for the test to read.
    BRIDGE_COMMAND: `sh -c "sleep 300 & echo helper=$! >&2; exec ${process.execPath} ${EVERYTHING} stdio"`,
    BRIDGE_POOL: String(pool),
    BRIDGE_PING_MS: '200',
    BRIDGE_PING_TIMEOUT_MS: '500',
    BRIDGE_RESTART_MIN_MS: '50',
  });
  return new UpstreamPool(config, { onUp: () => undefined, onListChanged: () => undefined });
}

describe('UpstreamPool (real upstream processes)', () => {
  let pool: UpstreamPool | undefined;

  afterEach(async () => {
    await pool?.stop();
    pool = undefined;
  });

  it('restarts a SIGKILLed upstream, failing the call it held with a retryable error, and kills its process group', async () => {
    pool = poolWithHelper();
    await pool.start(20_000);
    const [first] = pool.pids;
    expect(groupAlive(first)).toBe(true);
    const ctx = detachedCallContext();
    const held = pool.with(ctx.signal, (connection) =>
      connection.run(ctx, (options) =>
        connection.client.callTool(
          { name: 'trigger-long-running-operation', arguments: { duration: 5, steps: 5 } },
          undefined,
          options,
        ),
      ),
    );
    await eventuallyValue(() => pool!.up[0]?.reserved === 1 || undefined, 5_000, 'the call running');
    process.kill(first, 'SIGKILL');
    const error = await held.catch((thrown: unknown) => thrown);
    expect(error).toBeInstanceOf(UpstreamLostError);
    expect((error as UpstreamLostError).toWire()).toMatchObject({ code: 'UNAVAILABLE', retryable: true });
    const [second] = await eventuallyValue(
      () => (pool!.pids.length === 1 && pool!.pids[0] !== first ? pool!.pids : undefined),
      10_000,
      'a new upstream',
    );
    expect(isRunning(second)).toBe(true);
    // The helper the killed upstream left in its group went with it.
    await eventuallyValue(() => !groupAlive(first) || undefined, 5_000, 'the killed upstream group gone');
  });

  it('stop leaves no process of any upstream group behind', async () => {
    pool = poolWithHelper(2);
    await pool.start(20_000);
    const pids = await eventuallyValue(
      () => (pool!.pids.length === 2 ? pool!.pids : undefined),
      10_000,
      'two upstreams',
    );
    expect(pids.every(groupAlive)).toBe(true);
    await pool.stop();
    await eventuallyValue(() => pids.every((pid) => !groupAlive(pid)) || undefined, 5_000, 'every group gone');
  });
});
