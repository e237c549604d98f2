import { PROBE_MAX_IDS } from '@fabric/contracts';
import { eventually, RoutingHarness } from './testing/routing.fixtures';

// The detector probing a replica on the machine's NATS that answers probes as the service kit does.
describe('LostCallDetector', () => {
  let harness: RoutingHarness;

  beforeEach(async () => {
    // Long enough for a busy machine to answer probes of 10,000 ids within a period (a late answer decides nothing).
    harness = await RoutingHarness.start({ CALL_PROBE_MS: '200' });
  });

  afterEach(async () => {
    await harness?.stop();
  });

  it('with more calls in flight than one probe may carry, it probes in batches and finds the lost ones', async () => {
    const replica = await harness.replica('svc', 'svc-a', () => undefined);
    const ids = Array.from({ length: PROBE_MAX_IDS + 50 }, (_, i) => `call-${i}`);
    // The replica holds every call but these: one in the first batch, the rest in the second.
    const gone = new Set(['call-7', `call-${PROBE_MAX_IDS}`, `call-${PROBE_MAX_IDS + 49}`]);
    for (const id of ids) if (!gone.has(id)) replica.holding.add(id);
    const lost = new Set<string>();
    for (const id of ids) harness.detector.watch('svc', id, () => lost.add(id));

    await eventually('the calls no replica holds to be declared lost', () => lost.size >= gone.size, 15_000);
    // Three more rounds in which the replica answered for the held calls: none of them is lost.
    const probed = replica.probes.length;
    await eventually('three more probe rounds', () => replica.probes.length >= probed + 6, 15_000);
    expect([...lost].sort()).toEqual([...gone].sort());
    expect(replica.probes.every((size) => size > 0 && size <= PROBE_MAX_IDS)).toBe(true);
  });
});
