import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import { Fabric, listAllTools, textOf } from './support/fabric';
import { eventually } from './support/processes';

// One slow or failing service cannot exhaust the gateways or slow calls to the others: each service has a
// cap on calls in flight per gateway replica (bulkhead), a circuit breaker per gateway replica, and a
// concurrency limit per service replica. Two gateways behind the round-robin proxy.
describe('bulkheads and circuit breakers', () => {
  let fabric: Fabric;
  let client: Client;

  beforeAll(async () => {
    fabric = await Fabric.start({
      gateways: 2,
      services: [
        { app: 'testbed-service', env: { TESTBED_SERVICE_NAME: 'slow' } },
        { app: 'testbed-service', replicas: 2, env: { MAX_CONCURRENT_CALLS: '3' } },
      ],
      gatewayEnv: {
        SERVICE_MAX_IN_FLIGHT: '10',
        BREAKER_MIN_CALLS: '5',
        BREAKER_RESET_MS: '1500',
        CALL_RETRIES: '10',
      },
    });
    ({ client } = await fabric.connect());
    await fabric.waitForTool(client, 'slow_echo');
    await fabric.waitForTool(client, 'testbed_echo');
  });

  afterAll(async () => {
    await fabric?.stop();
  });

  const call = (name: string, args: Record<string, unknown>) =>
    client.callTool({ name, arguments: args }) as Promise<CallToolResult>;
  const timed = async <T>(work: () => Promise<T>) => {
    const started = Date.now();
    const value = await work();
    return { value, ms: Date.now() - started };
  };

  it('a service at its limit of calls in flight gets no more, and calls to another service stay fast', async () => {
    const slowCalls = Array.from({ length: 40 }, () => timed(() => call('slow_slow_read', { ms: 3_000 })));
    const fast: { ms: number; text: string }[] = [];
    for (let i = 0; i < 20; i++) {
      const { value, ms } = await timed(() => call('testbed_echo', { text: `fast ${i}` }));
      fast.push({ ms, text: textOf(value) });
    }
    const listed = await timed(() => listAllTools(client));
    const slow = await Promise.all(slowCalls);

    expect(fast.map(({ text }) => text)).toEqual(Array.from({ length: 20 }, (_, i) => `fast ${i}`));
    // Far below the 3 s the slow calls take (a loaded machine adds its own delays, so no tighter bound).
    expect(Math.max(...fast.map(({ ms }) => ms))).toBeLessThan(2_000);
    expect(listed.value).toEqual(expect.arrayContaining(['slow_echo', 'testbed_echo']));
    expect(listed.ms).toBeLessThan(2_000);
    const refused = slow.filter(({ value }) => value.isError);
    expect(slow.filter(({ value }) => !value.isError)).toHaveLength(20); // 10 per gateway
    expect(refused).toHaveLength(20);
    for (const { value, ms } of refused) {
      expect(textOf(value)).toMatch(/has 10 calls in progress at this gateway, its limit; try again shortly/);
      expect(ms).toBeLessThan(2_000);
    }
  });

  it('a failing service trips its circuit: calls to it fail at once until a trial call succeeds, others are untouched', async () => {
    // `sleep` has a 1 s deadline: on each gateway, timeouts soon outnumber the previous test's successes in the window.
    for (let batch = 0; batch < 3; batch++) {
      const timeouts = await Promise.all(Array.from({ length: 10 }, () => call('slow_sleep', { ms: 5_000 })));
      expect(timeouts.every((result) => result.isError && /did not finish|paused/.test(textOf(result)))).toBe(true);
    }

    const paused = await timed(() => call('slow_echo', { text: 'hello' }));
    expect(paused.value.isError).toBe(true);
    expect(textOf(paused.value)).toMatch(/Service "slow" is failing; calls to it are paused/);
    expect(paused.ms).toBeLessThan(500);
    expect(textOf(await call('testbed_echo', { text: 'unaffected' }))).toBe('unaffected');

    await eventually(
      async () => textOf(await call('slow_echo', { text: 'back' })) === 'back',
      10_000,
      'the circuit to close',
    );
  });

  it('a replica at its concurrency limit refuses more calls unstarted; they run on a replica with room', async () => {
    // Two replicas of 3 slots each: 6 calls fit, spread by the retries of refused ones; 2 more cannot.
    const fits = await Promise.all(Array.from({ length: 6 }, () => call('testbed_slow_read', { ms: 2_000 })));
    expect(fits.filter((result) => result.isError).map(textOf)).toEqual([]);
    expect(new Set(fits.map((result) => textOf(result))).size).toBe(2);

    const tooMany = await Promise.all(Array.from({ length: 8 }, () => call('testbed_slow_read', { ms: 2_000 })));
    const refused = tooMany.filter((result) => result.isError);
    expect(refused).toHaveLength(2);
    for (const result of refused) expect(textOf(result)).toMatch(/running its limit of 3 calls/);
  });
});
