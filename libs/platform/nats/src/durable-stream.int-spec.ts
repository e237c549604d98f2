import { randomBytes } from 'node:crypto';
import type { DurableStream } from './durable-stream';
import { NatsClient } from './nats-client';
import { StreamFullError } from './nats.errors';

const NATS_URL = process.env['NATS_URL'] ?? 'nats://127.0.0.1:4222';
const encode = (text: string) => new TextEncoder().encode(text);
const decode = (data: Uint8Array) => new TextDecoder().decode(data);

describe('DurableStream (against the machine NATS)', () => {
  const name = `durable_${randomBytes(4).toString('hex')}`;
  let nats: NatsClient;
  let other: NatsClient;
  let stream: DurableStream;

  beforeAll(async () => {
    nats = await NatsClient.connect({ url: NATS_URL, name: 'durable-stream-spec' });
    other = await NatsClient.connect({ url: NATS_URL, name: 'durable-stream-spec-2' });
    stream = await nats.durableStream(name, { subjects: [`${name}.>`], retention: 'workqueue', maxAgeMs: 60_000 });
  });

  afterAll(async () => {
    await (await nats.connection.jetstreamManager()).streams.delete(name).catch(() => undefined);
    await Promise.all([nats.close(), other.close()]);
  });

  it('a publish with an id already stored is acknowledged as a duplicate and stored once', async () => {
    const first = await stream.publish(`${name}.dup`, encode('one'), { msgId: 'same' });
    const again = await stream.publish(`${name}.dup`, encode('one'), { msgId: 'same' });
    expect(first.duplicate).toBe(false);
    expect(again).toEqual({ seq: first.seq, duplicate: true });
    const consumer = await stream.consumer({ name: 'dup', filterSubject: `${name}.dup`, ackWaitMs: 5_000 });
    const [message, ...rest] = await consumer.fetch(10, 1_000);
    expect([decode(message.data), rest]).toEqual(['one', []]);
    await message.ackConfirmed();
  });

  it('a message one process took and never acknowledged is delivered to another, counting its deliveries', async () => {
    await stream.publish(`${name}.work`, encode('job'), { headers: { 'Fabric-Kind': 'test' } });
    const options = { name: 'workers', filterSubject: `${name}.work`, ackWaitMs: 1_000, maxDeliver: 3 };
    const first = await (await stream.consumer(options)).fetch(1, 1_000);
    expect(first.map((m) => [decode(m.data), m.deliveryCount, m.header('Fabric-Kind')])).toEqual([['job', 1, 'test']]);
    // The first taker goes silent: after the ack wait the same message reaches the other process.
    const otherConsumer = await (
      await other.durableStream(name, {
        subjects: [`${name}.>`],
        retention: 'workqueue',
        maxAgeMs: 60_000,
      })
    ).consumer(options);
    let again: Awaited<ReturnType<typeof otherConsumer.fetch>> = [];
    const deadline = Date.now() + 10_000;
    while (again.length === 0 && Date.now() < deadline) again = await otherConsumer.fetch(1, 1_000);
    expect(again.map((m) => [decode(m.data), m.deliveryCount])).toEqual([['job', 2]]);
    await again[0].ackConfirmed();
    // Acknowledged on a work queue: gone from the stream.
    expect(await stream.messageCount()).toBe(0);
  });

  it('a full stream refuses a publish instead of dropping what it holds', async () => {
    const small = await nats.durableStream(`${name}_small`, {
      subjects: [`${name}_small.>`],
      retention: 'limits',
      maxAgeMs: 60_000,
      maxMessages: 1,
    });
    try {
      await small.publish(`${name}_small.a`, encode('kept'));
      await expect(small.publish(`${name}_small.a`, encode('refused'))).rejects.toThrow(StreamFullError);
      expect(await small.messageCount()).toBe(1);
    } finally {
      await (await nats.connection.jetstreamManager()).streams.delete(`${name}_small`).catch(() => undefined);
    }
  });
});
