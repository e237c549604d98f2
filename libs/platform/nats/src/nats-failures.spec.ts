import { ErrorCode, NatsError } from 'nats';
import { NatsClosedError } from './nats.errors';
import { JetStreamApiCode, isTransient, retryTransient } from './nats-failures';

function natsError(code: string, api?: { code: number; err_code: number }): NatsError {
  const error = new NatsError(code, code);
  if (api) error.api_error = { ...api, description: 'from the server' };
  return error;
}

describe('isTransient', () => {
  it.each([
    ['a timeout', natsError(ErrorCode.Timeout)],
    ['no responders (a stream without a leader yet)', natsError(ErrorCode.NoResponders)],
    ['a dropped connection', natsError(ErrorCode.Disconnect)],
    [
      'JetStream temporarily unavailable',
      natsError('503', { code: 503, err_code: JetStreamApiCode.ClusterUnavailable }),
    ],
  ])('is true for %s', (_, error) => {
    expect(isTransient(error)).toBe(true);
  });

  it.each([
    ['a compare-and-set conflict', natsError('400', { code: 400, err_code: JetStreamApiCode.WrongLastSequence })],
    ['a missing stream', natsError('404', { code: 404, err_code: JetStreamApiCode.StreamNotFound })],
    ['a closed connection', natsError(ErrorCode.ConnectionClosed)],
    ['our own closed error', new NatsClosedError()],
    ['an error nats.js did not raise', new Error('TIMEOUT')],
  ])('is false for %s', (_, error) => {
    expect(isTransient(error)).toBe(false);
  });
});

describe('retryTransient', () => {
  it('retries transient failures until the operation succeeds', async () => {
    let calls = 0;
    const result = await retryTransient(async () => {
      if (++calls < 3) throw natsError(ErrorCode.Timeout);
      return 'done';
    }, 5_000);
    expect([result, calls]).toEqual(['done', 3]);
  });

  it('fails at once on a failure that is not transient', async () => {
    let calls = 0;
    const conflict = natsError('400', { code: 400, err_code: JetStreamApiCode.WrongLastSequence });
    await expect(
      retryTransient(async () => {
        calls++;
        throw conflict;
      }, 5_000),
    ).rejects.toBe(conflict);
    expect(calls).toBe(1);
  });

  it('gives up with the last failure once its budget is spent', async () => {
    const started = Date.now();
    await expect(
      retryTransient(async () => {
        throw natsError(ErrorCode.Timeout);
      }, 300),
    ).rejects.toMatchObject({ code: ErrorCode.Timeout });
    expect(Date.now() - started).toBeLessThan(1_000);
  });

  it('makes each attempt only once connected', async () => {
    let connect!: () => void;
    const connected = new Promise<void>((resolve) => (connect = resolve));
    let attempted = false;
    const result = retryTransient(
      async () => {
        attempted = true;
        return 'sent';
      },
      5_000,
      () => connected,
    );
    await new Promise((resolve) => setImmediate(resolve));
    expect(attempted).toBe(false);
    connect();
    await expect(result).resolves.toBe('sent');
  });
});
