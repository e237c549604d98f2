import { readFileSync } from 'node:fs';
import { Fabric, INITIALIZE, postRaw, textOf } from './support/fabric';
import { metricValue } from './support/metrics';

const SESSIONS = 20_000;
const CONCURRENCY = 64;
/** SDK servers the gateway keeps (the LRU's bound), below the sessions rebuilt at the end. */
const MAX_LOCAL = 100;
/** What 20,000 idle sessions may cost one gateway. */
const BOUND_BYTES = 150 * 1024 * 1024;

/** Resident memory of a process, from /proc. */
function rssOf(pid: number): number {
  const line = readFileSync(`/proc/${pid}/status`, 'utf8')
    .split('\n')
    .find((candidate) => candidate.startsWith('VmRSS:'))!;
  return Number(line.replace(/\D+/g, '')) * 1024;
}

/** Runs `task` for 0…count-1 with `concurrency` in flight. */
async function forEachConcurrently(count: number, concurrency: number, task: (i: number) => Promise<void>) {
  let next = 0;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < count) await task(next++);
    }),
  );
}

// A session flood: per-session objects are built lazily and held in a bounded LRU, so 20,000 initialized
// sessions fit in a bounded amount of memory and every one of them still works.
describe('20,000 sessions on one gateway', () => {
  let fabric: Fabric;

  beforeAll(async () => {
    fabric = await Fabric.start({
      services: [{ app: 'testbed-service' }],
      // The image's young-generation size (docker/Dockerfile), so that a run on the image's Node measures what ships.
      // Every session of the flood is anonymous: one principal, whose session bound is lifted here.
      gatewayEnv: {
        MAX_LOCAL_SESSIONS: String(MAX_LOCAL),
        MAX_SESSIONS_PER_PRINCIPAL: '0',
        NODE_OPTIONS: '--max-semi-space-size=16',
      },
    });
  });

  afterAll(async () => {
    await fabric?.stop();
  });

  it('stay within the memory bound and every one of them can still call a tool', async () => {
    const url = fabric.mcpUrl;
    const pid = fabric.gateway.child.pid!;
    // Warm up the paths the flood takes (the JIT, ajv, the SDK server) before the baseline.
    const warm = await postRaw(url, INITIALIZE);
    expect(warm.status).toBe(200);
    const before = rssOf(pid);

    const sessions: string[] = new Array(SESSIONS);
    await forEachConcurrently(SESSIONS, CONCURRENCY, async (i) => {
      const init = await postRaw(url, INITIALIZE);
      if (init.status !== 200) throw new Error(`initialize ${i} answered ${init.status}`);
      sessions[i] = init.headers.get('mcp-session-id')!;
    });
    const grown = rssOf(pid) - before;
    expect(grown).toBeLessThan(BOUND_BYTES);

    // Every session still works: a tool call on each (no SDK server needed) …
    const failures: string[] = [];
    await forEachConcurrently(SESSIONS, CONCURRENCY, async (i) => {
      const body = JSON.stringify({
        jsonrpc: '2.0',
        id: 1,
        method: 'tools/call',
        params: { name: 'testbed_echo', arguments: { text: `s${i}` } },
      });
      const answer = await postRaw(url, body, { 'mcp-session-id': sessions[i] });
      const result = (answer.json as { result?: unknown }).result;
      if (answer.status !== 200 || textOf(result) !== `s${i}`)
        failures.push(`session ${i}: ${JSON.stringify(answer.json)}`);
    });
    expect(failures.slice(0, 5)).toEqual([]);
    // … and what needs a session's SDK server (tools/list) works too: more sessions than the LRU holds get one
    // built (from their record), the least recently used are evicted, and an evicted one is rebuilt.
    await forEachConcurrently(2 * MAX_LOCAL, 16, async (i) => {
      const body = JSON.stringify({ jsonrpc: '2.0', id: 2, method: 'tools/list' });
      const answer = await postRaw(url, body, { 'mcp-session-id': sessions[i] });
      const tools = (answer.json as { result?: { tools?: { name: string }[] } }).result?.tools ?? [];
      if (!tools.some((tool) => tool.name === 'testbed_echo'))
        failures.push(`list ${i}: ${JSON.stringify(answer.json)}`);
    });
    expect(failures.slice(0, 5)).toEqual([]);
    expect(await metricValue(fabric.gateway.url, 'fabric_gateway_sessions_local')).toBeLessThanOrEqual(MAX_LOCAL);
    expect(await metricValue(fabric.gateway.url, 'fabric_gateway_session_evictions_total')).toBeGreaterThan(0);
    const rebuilt = JSON.stringify({ jsonrpc: '2.0', id: 3, method: 'tools/list' });
    const again = await postRaw(url, rebuilt, { 'mcp-session-id': sessions[0] });
    expect((again.json as { result?: { tools?: unknown[] } }).result?.tools?.length).toBeGreaterThan(0);
    // (Resident memory is bounded above, for the sessions idle; after 20,000 calls it also holds the garbage
    // of that burst until the heap shrinks. What stays bounded whatever the traffic is the servers held.)
  }, 240_000);
});
