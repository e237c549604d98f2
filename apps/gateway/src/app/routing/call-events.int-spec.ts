import { NatsClient } from '@fabric/platform-nats';
import type { CallListener } from './call-events';
import { NATS_URL, RoutingHarness } from './testing/routing.fixtures';

// The gateway's end of the calls' back channel, heard on the machine's NATS from a service's connection.
describe('CallEventBus', () => {
  let harness: RoutingHarness;
  let service: NatsClient;

  beforeAll(async () => {
    harness = await RoutingHarness.start();
    service = await NatsClient.connect({ url: NATS_URL, name: 'call-events-spec-service' });
  });

  afterAll(async () => {
    await service?.close();
    await harness?.stop();
  });

  /** Resolves when the gateway's connection has heard a marker the service sends now (after what it sent before). */
  async function heardEverythingSentSoFar(): Promise<void> {
    const subject = `${harness.env.FABRIC_NAMESPACE}.marker.${Math.random().toString(36).slice(2)}`;
    const heard = new Promise<void>((resolve) => {
      const subscription = harness.nats.subscribe(subject, () => {
        subscription.unsubscribe();
        resolve();
      });
    });
    await harness.nats.connection.flush();
    service.publishJson(subject, {});
    await heard;
  }

  it('a request to the client is made only once the events sent before it are delivered', async () => {
    const order: string[] = [];
    let writeLog!: () => void;
    const logWritable = new Promise<void>((resolve) => (writeLog = resolve));
    const listener: CallListener = {
      event: async (event) => {
        order.push(`${event.type}:writing`);
        await logWritable; // a slow client stream
        order.push(`${event.type}:written`);
      },
      request: async (request) => {
        order.push(`request:${request.method}`);
        return { role: 'assistant', content: { type: 'text', text: 'hi' }, model: 'm' };
      },
    };
    const call = harness.bus.open('call-1', listener);

    service.publishJson(call.subject, { type: 'log', level: 'info', data: 'about to ask the model' });
    const answer = service.requestJson(
      call.subject,
      { type: 'request', method: 'sampling/createMessage', params: { messages: [], maxTokens: 1 } },
      { timeoutMs: 5_000 },
    );
    await heardEverythingSentSoFar();
    expect(order).toEqual(['log:writing']);

    writeLog();
    expect(await answer).toMatchObject({ ok: true, result: { model: 'm' } });
    expect(order).toEqual(['log:writing', 'log:written', 'request:sampling/createMessage']);
    call.close();
  });
});
