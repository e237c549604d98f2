import { CallInterruptedError, type CallEvent } from '@fabric/contracts';
import type { CallListener } from './call-events';
import { RoutingHarness, type CallHandler } from './testing/routing.fixtures';

// The service client against replicas on the machine's NATS that speak the wire contract by hand.
describe('ServiceClient', () => {
  let harness: RoutingHarness;

  beforeEach(async () => {
    harness = await RoutingHarness.start();
  });

  afterEach(async () => {
    await harness?.stop();
  });

  /** A listener recording what would reach the client. */
  function recorder(): CallListener & { events: CallEvent[] } {
    const events: CallEvent[] = [];
    return {
      events,
      event: (event) => void events.push(event),
      request: () => Promise.reject(new Error('no client requests in this test')),
    };
  }

  it('a call retried on another replica never reports progress at or below what its client already got', async () => {
    let attempts = 0;
    const serve: CallHandler = async (call, replica) => {
      if (++attempts === 1) {
        // The first replica gets to step 3 of 5, then dies holding the call.
        for (const progress of [1, 2, 3]) call.event({ type: 'progress', progress, total: 5 });
        await replica.crash();
        return;
      }
      for (const progress of [1, 2, 3, 4, 5]) call.event({ type: 'progress', progress, total: 5 });
      call.reply({ ok: true, result: { done: true } });
    };
    await harness.replica('svc', 'svc-a', serve);
    await harness.replica('svc', 'svc-b', serve);
    const listener = recorder();

    const result = await harness.client.call({
      service: 'svc',
      operation: 'tools.call',
      name: 'steps',
      idempotent: true,
      timeoutMs: 10_000,
      progressToken: 't',
      listener,
    });

    expect(result).toEqual({ done: true });
    expect(attempts).toBe(2);
    expect(listener.events.map((event) => (event.type === 'progress' ? event.progress : event.type))).toEqual([
      1, 2, 3, 4, 5,
    ]);
  });

  describe('a call its replica interrupted because it was stopping', () => {
    let received: string[];

    beforeEach(async () => {
      received = [];
      // Whichever replica gets a call first is stopping: it leaves the queue group, then aborts the call.
      const serve: CallHandler = async (call, replica) => {
        received.push(replica.instanceId);
        if (received.length === 1) {
          await replica.leave();
          call.reply({
            ok: false,
            error: new CallInterruptedError('The replica shut down before the call finished').toWire(),
          });
        } else {
          call.reply({ ok: true, result: { servedBy: replica.instanceId } });
        }
      };
      await harness.replica('svc', 'svc-a', serve);
      await harness.replica('svc', 'svc-b', serve);
    });

    const send = (idempotent: boolean) =>
      harness.client.call({ service: 'svc', operation: 'tools.call', name: 'read', idempotent, timeoutMs: 5_000 });

    it('is sent to another replica when it is idempotent', async () => {
      const result = await send(true);
      expect(received).toHaveLength(2);
      expect(result).toEqual({ servedBy: received[1] });
      expect(received[1]).not.toBe(received[0]);
      expect(await harness.metric('fabric_gateway_service_call_retries_total', { reason: 'replica_stopped' })).toBe(1);
    });

    it('otherwise fails at once saying its outcome is unknown, and is not sent again', async () => {
      await expect(send(false)).rejects.toThrow(
        /stopped before answering: the outcome is unknown and the call may be retried/,
      );
      expect(received).toHaveLength(1);
      expect(await harness.metric('fabric_gateway_service_call_retries_total')).toBe(0);
    });
  });
});
