import {
  CancelledError,
  ClientRequestSchema,
  DeadlineExceededError,
  FabricError,
  InternalError,
  UnavailableError,
  type CallReply,
} from '@fabric/contracts';
import {
  NoRespondersError,
  RequestTimeoutError,
  decodeJson,
  encodeJson,
  type Msg,
  type RequestOptions,
} from '@fabric/platform-nats';
import { CallChannel, detachedCallContext, type ChannelNats, type ChannelRequest } from './call.channel';

const EVENTS = 'fabric.v1.gateway.gw-1.call.c1';

/** Records what a channel publishes and sends; `answer` decides each request's outcome. */
class FakeNats implements ChannelNats {
  readonly published: { subject: string; value: unknown }[] = [];
  readonly sent: { subject: string; value: unknown; options: RequestOptions }[] = [];
  answer: () => Promise<Msg> = () => reply({ ok: true, result: {} });

  publishJson(subject: string, value: unknown): void {
    this.published.push({ subject, value: JSON.parse(JSON.stringify(value)) });
  }

  request(subject: string, data: Uint8Array, options: RequestOptions): Promise<Msg> {
    this.sent.push({ subject, value: decodeJson(data), options });
    return this.answer();
  }
}

function reply(value: CallReply | string): Promise<Msg> {
  const data = typeof value === 'string' ? new TextEncoder().encode(value) : encodeJson(value);
  return Promise.resolve({ data } as Msg);
}

const never = () => new Promise<Msg>(() => undefined);

function open(request: Partial<ChannelRequest> = {}, controller = new AbortController()) {
  const nats = new FakeNats();
  const channel = new CallChannel(
    { events: EVENTS, deadline: Date.now() + 10_000, ...request },
    nats,
    controller.signal,
  );
  return { nats, channel, controller };
}

const question = {
  messages: [{ role: 'user' as const, content: { type: 'text' as const, text: 'hi' } }],
  maxTokens: 10,
};

describe('CallChannel', () => {
  describe('progress', () => {
    it('publishes a progress event on the events subject when the client gave a progress token', () => {
      const { nats, channel } = open({ progressToken: 't1' });
      channel.progress(1, 4, 'one of four');
      expect(nats.published).toEqual([
        { subject: EVENTS, value: { type: 'progress', progress: 1, total: 4, message: 'one of four' } },
      ]);
    });

    it('publishes nothing without a progress token', () => {
      const { nats, channel } = open();
      channel.progress(1, 4);
      expect(nats.published).toEqual([]);
    });

    it('publishes nothing when the call has no events subject', () => {
      const { nats, channel } = open({ events: undefined, progressToken: 0 });
      channel.progress(1);
      channel.log('error', 'lost');
      expect(nats.published).toEqual([]);
    });
  });

  describe('log', () => {
    it('publishes the levels at or above the client log level, in call order', () => {
      const { nats, channel } = open({ logLevel: 'warning' });
      channel.log('info', 'quiet');
      channel.log('warning', { n: 1 }, 'orders');
      channel.log('error', 'loud');
      expect(nats.published.map((event) => event.value)).toEqual([
        { type: 'log', level: 'warning', logger: 'orders', data: { n: 1 } },
        { type: 'log', level: 'error', data: 'loud' },
      ]);
    });

    it('publishes every level when the client set none', () => {
      const { nats, channel } = open();
      channel.log('debug', 'all');
      expect(nats.published).toHaveLength(1);
    });
  });

  it('publishes no event and sends no request once closed', async () => {
    const { nats, channel } = open({ progressToken: 1 });
    channel.close();
    channel.progress(1);
    channel.log('info', 'late');
    await expect(channel.sample(question)).rejects.toBeInstanceOf(UnavailableError);
    expect(nats.published).toEqual([]);
    expect(nats.sent).toEqual([]);
  });

  describe('sample and elicit', () => {
    it('sends the request to the events subject with the time left as timeout and resolves with the result', async () => {
      const { nats, channel } = open({ deadline: Date.now() + 5_000 });
      const answer = { role: 'assistant', model: 'm', content: { type: 'text', text: 'hello' } };
      nats.answer = () => reply({ ok: true, result: answer });
      await expect(channel.sample(question)).resolves.toEqual(answer);
      expect(nats.sent).toHaveLength(1);
      expect(nats.sent[0].subject).toBe(EVENTS);
      expect(ClientRequestSchema.parse(nats.sent[0].value)).toEqual({
        type: 'request',
        method: 'sampling/createMessage',
        params: question,
        deadline: expect.any(Number),
      });
      expect(nats.sent[0].options.timeoutMs).toBeGreaterThan(4_000);
      expect(nats.sent[0].options.timeoutMs).toBeLessThanOrEqual(5_000);
    });

    it('sends elicitation/create for elicit', async () => {
      const { nats, channel } = open();
      nats.answer = () => reply({ ok: true, result: { action: 'decline' } });
      const request = {
        message: 'Name?',
        requestedSchema: { type: 'object' as const, properties: { name: { type: 'string' as const } } },
      };
      await expect(channel.elicit(request)).resolves.toEqual({ action: 'decline' });
      expect(nats.sent[0].value).toEqual({
        type: 'request',
        method: 'elicitation/create',
        params: request,
        deadline: expect.any(Number),
      });
    });

    it('sends roots/list for roots', async () => {
      const { nats, channel } = open();
      nats.answer = () => reply({ ok: true, result: { roots: [{ uri: 'file:///work' }] } });
      await expect(channel.roots()).resolves.toEqual({ roots: [{ uri: 'file:///work' }] });
      expect(nats.sent[0].value).toMatchObject({ type: 'request', method: 'roots/list', params: {} });
    });

    it('names the request with the key the handler gives it', async () => {
      const { nats, channel } = open();
      nats.answer = () => reply({ ok: true, result: { action: 'cancel' } });
      await channel.elicit({ message: 'Sure?', requestedSchema: { type: 'object', properties: {} } }, { key: 'sure' });
      expect(nats.sent[0].value).toMatchObject({ key: 'sure' });
    });

    it('rejects with the FabricError of an error reply', async () => {
      const { nats, channel } = open();
      nats.answer = () =>
        reply({
          ok: false,
          error: { code: 'UNAVAILABLE', message: 'The client does not support sampling', retryable: false },
        });
      const error = await channel.sample(question).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(FabricError);
      expect(error).toMatchObject({
        code: 'UNAVAILABLE',
        message: 'The client does not support sampling',
        retryable: false,
      });
    });

    it('rejects with UnavailableError, sending nothing, when the call has no client', async () => {
      const { nats, channel } = open({ events: undefined });
      await expect(
        channel.elicit({ message: 'x', requestedSchema: { type: 'object', properties: {} } }),
      ).rejects.toThrow('The call has no client to ask (elicitation/create)');
      expect(nats.sent).toEqual([]);
    });

    it('turns "no responders" into UnavailableError: the gateway holding the client is gone', async () => {
      const { nats, channel } = open();
      nats.answer = () => Promise.reject(new NoRespondersError(EVENTS));
      const error = await channel.sample(question).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(UnavailableError);
      expect((error as Error).message).toContain('gateway holding the client');
    });

    it('turns a request timeout into DeadlineExceededError', async () => {
      const { nats, channel } = open();
      nats.answer = () => Promise.reject(new RequestTimeoutError(EVENTS, 10));
      await expect(channel.sample(question)).rejects.toBeInstanceOf(DeadlineExceededError);
    });

    it('rejects with DeadlineExceededError, sending nothing, when the deadline has passed', async () => {
      const { nats, channel } = open({ deadline: Date.now() - 1 });
      await expect(channel.sample(question)).rejects.toBeInstanceOf(DeadlineExceededError);
      expect(nats.sent).toEqual([]);
    });

    it('rejects with InternalError on a reply that is not a CallReply', async () => {
      const { nats, channel } = open();
      nats.answer = () => reply('not json');
      await expect(channel.sample(question)).rejects.toBeInstanceOf(InternalError);
    });

    it('rejects at once with the signal reason when the call is aborted while waiting', async () => {
      const { nats, channel, controller } = open();
      nats.answer = never;
      const pending = channel.sample(question);
      controller.abort(new CancelledError('stop'));
      await expect(pending).rejects.toEqual(new CancelledError('stop'));
    });

    it('never sends when the call is already aborted', async () => {
      const controller = new AbortController();
      controller.abort(new CancelledError());
      const { nats, channel } = open({}, controller);
      await expect(channel.sample(question)).rejects.toBeInstanceOf(CancelledError);
      expect(nats.sent).toEqual([]);
    });
  });
});

describe('detachedCallContext', () => {
  it('has no client: progress and log do nothing, sample fails UNAVAILABLE', async () => {
    const ctx = detachedCallContext({ callId: 'c9' });
    expect(ctx.callId).toBe('c9');
    ctx.progress(1);
    ctx.log('info', 'nowhere');
    await expect(ctx.sample(question)).rejects.toMatchObject({ code: 'UNAVAILABLE' });
  });
});
