import { randomBytes } from 'node:crypto';
import { NatsClient } from './nats-client';
import type { RetainedStream } from './retained-stream';

const NATS_URL = process.env['NATS_URL'] ?? 'nats://127.0.0.1:4222';

describe('RetainedStream (against the machine NATS)', () => {
  const name = `retained_${randomBytes(4).toString('hex')}`;
  let nats: NatsClient;
  let stream: RetainedStream;

  beforeAll(async () => {
    nats = await NatsClient.connect({ url: NATS_URL, name: 'retained-stream-spec' });
    stream = await nats.retainedStream(name, [`${name}.>`], 60_000);
  });

  afterAll(async () => {
    await (await nats.connection.jetstreamManager()).streams.delete(name).catch(() => undefined);
    await nats.close();
  });

  const text = (data: Uint8Array | undefined) => (data ? new TextDecoder().decode(data) : undefined);

  it('reads back what was appended on one subject, in order, skipping the other subjects', async () => {
    const first = await stream.append(`${name}.a`, new TextEncoder().encode('a1'));
    await stream.append(`${name}.b`, new TextEncoder().encode('b1'));
    const second = await stream.append(`${name}.a`, new TextEncoder().encode('a2'));
    expect(second).toBeGreaterThan(first);

    const one = await stream.next(`${name}.a`, first);
    expect([one?.seq, text(one?.data)]).toEqual([first, 'a1']);
    const two = await stream.next(`${name}.a`, first + 1);
    expect([two?.seq, text(two?.data)]).toEqual([second, 'a2']);
    expect(await stream.next(`${name}.a`, second + 1)).toBeUndefined();
    expect(await stream.next(`${name}.nothing`, 1)).toBeUndefined();
  });

  it('opening again with another retention updates the stream instead of failing', async () => {
    await nats.retainedStream(name, [`${name}.>`], 30_000);
    const info = await (await nats.connection.jetstreamManager()).streams.info(name);
    expect(info.config.max_age).toBe(30_000 * 1_000_000);
  });
});
