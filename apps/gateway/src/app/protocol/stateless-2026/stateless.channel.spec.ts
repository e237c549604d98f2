import type { ClientRequest } from '@fabric/contracts';
import { AnsweredElsewhereError } from '../../routing/call-events';
import type { PendingAsk } from './input-required';
import { MissingClientCapabilityError, StatelessChannel } from './stateless.channel';

const elicit = (key?: string): ClientRequest => ({
  type: 'request',
  method: 'elicitation/create',
  params: { message: 'Name?', requestedSchema: { type: 'object', properties: {} } },
  ...(key ? { key } : {}),
});
const sample: ClientRequest = { type: 'request', method: 'sampling/createMessage', params: { maxTokens: 1 } };

function open(capabilities: Record<string, object> = { elicitation: {}, sampling: {} }) {
  const batches: { callId: string; asks: PendingAsk[] }[] = [];
  const stopped: Error[] = [];
  let delivered: () => void = () => undefined;
  const gathered = new Promise<void>((resolve) => (delivered = resolve));
  const channel = new StatelessChannel(
    undefined,
    undefined,
    capabilities,
    async () => undefined,
    (reason) => stopped.push(reason),
    (callId, asks) => {
      batches.push({ callId, asks });
      delivered();
    },
  );
  return { channel, batches, stopped, gathered };
}

const signal = new AbortController().signal;
const origin = (n: number) => ({ callId: 'call-1', replyTo: `_INBOX.r.${n}` });

describe('StatelessChannel', () => {
  it('gathers the requests a call makes at once into one batch, each with the subject its handler waits on', async () => {
    const { channel, batches, gathered } = open();
    await expect(channel.ask(elicit('user_name'), signal, origin(1))).rejects.toBeInstanceOf(AnsweredElsewhereError);
    await expect(channel.ask(sample, signal, origin(2))).rejects.toBeInstanceOf(AnsweredElsewhereError);
    await gathered;
    expect(batches).toEqual([
      {
        callId: 'call-1',
        asks: [
          { key: 'user_name', method: 'elicitation/create', params: elicit().params, replyTo: '_INBOX.r.1' },
          { key: 'sampling-2', method: 'sampling/createMessage', params: sample.params, replyTo: '_INBOX.r.2' },
        ],
      },
    ]);
  });

  it('gives two requests under the same key different keys', async () => {
    const { channel, batches, gathered } = open();
    await channel.ask(elicit('k'), signal, origin(1)).catch(() => undefined);
    await channel.ask(elicit('k'), signal, origin(2)).catch(() => undefined);
    await gathered;
    expect(batches[0].asks.map((ask) => ask.key)).toEqual(['k', 'k-2']);
  });

  it('refuses a request whose capability the client did not declare, and stops the call', async () => {
    const { channel, batches, stopped } = open({ sampling: {} });
    await expect(channel.ask(elicit(), signal, origin(1))).rejects.toBeInstanceOf(MissingClientCapabilityError);
    expect(channel.refusal).toBeInstanceOf(MissingClientCapabilityError);
    expect(stopped).toHaveLength(1);
    expect(batches).toEqual([]);
  });
});
