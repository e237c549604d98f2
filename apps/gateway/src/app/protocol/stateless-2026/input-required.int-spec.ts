import { randomBytes } from 'node:crypto';
import type { ServerResponse } from 'node:http';
import { loadConfig } from '@fabric/platform-config';
import { NatsClient, tryDecodeJson } from '@fabric/platform-nats';
import { gatewayEnvSchema } from '../../gateway.config';
import { InputRequired, type PendingAsk } from './input-required';
import { StatelessRejection, type StatelessRequest } from './stateless-request';

const NATS_URL = process.env['NATS_URL'] ?? 'nats://127.0.0.1:4222';

/** The little of a ServerResponse the answer uses, recording what was written. */
class RecordingResponse {
  status?: number;
  body?: string;
  destroyed = false;
  writableEnded = false;
  private resolve: () => void = () => undefined;
  readonly ended = new Promise<void>((done) => (this.resolve = done));

  writeHead(status: number): this {
    this.status = status;
    return this;
  }
  end(body: string): this {
    this.body = body;
    this.writableEnded = true;
    this.resolve();
    return this;
  }
  once(): this {
    return this;
  }
  off(): this {
    return this;
  }
  json(): { result?: Record<string, unknown>; error?: { code: number; message: string } } {
    return JSON.parse(this.body ?? 'null');
  }
}

function toolCall(params: Record<string, unknown>, id: number): StatelessRequest {
  return { id, method: 'tools/call', params: { name: 'greet', arguments: {}, ...params }, capabilities: {} };
}

// Two replicas sharing the fleet's key and no memory: one answers a call with an input-required result,
// the other continues it from the client's retry alone, over the machine's NATS.
describe('InputRequired', () => {
  const env = loadConfig(gatewayEnvSchema, {
    NATS_URL,
    FABRIC_NAMESPACE: `t${randomBytes(6).toString('hex')}`,
    LOG_LEVEL: 'silent',
    REQUEST_STATE_KEY: randomBytes(32).toString('hex'),
  });
  let nats: NatsClient;
  let replicaA: InputRequired;
  let replicaB: InputRequired;

  beforeAll(async () => {
    nats = await NatsClient.connect({ url: NATS_URL, name: 'input-required-spec' });
    replicaA = new InputRequired(nats, env);
    replicaB = new InputRequired(nats, env);
    await replicaA.onApplicationBootstrap();
    await replicaB.onApplicationBootstrap();
  });

  afterAll(async () => {
    const manager = await nats.connection.jetstreamManager();
    await manager.streams.delete(`KV_${env.FABRIC_NAMESPACE}_request_states`).catch(() => undefined);
    await nats.close();
  });

  /** A handler waiting for its answer on a subject of its own; resolves with the CallReply it gets. */
  function waitingHandler(): { ask: PendingAsk; reply: Promise<unknown> } {
    const replyTo = `_INBOX.${env.FABRIC_NAMESPACE}.${randomBytes(4).toString('hex')}`;
    const reply = new Promise<unknown>((resolve) => {
      const subscription = nats.subscribe(replyTo, (msg) => {
        subscription.unsubscribe();
        resolve(tryDecodeJson(msg.data));
      });
    });
    const ask: PendingAsk = {
      key: 'user_name',
      method: 'elicitation/create',
      params: { message: 'Name?', requestedSchema: { type: 'object', properties: {} } },
      replyTo,
      deadline: Date.now() + 30_000,
    };
    return { ask, reply };
  }

  async function firstRound(callId: string) {
    const handler = waitingHandler();
    await nats.connection.flush();
    const answer = JSON.parse(replicaA.answerJson(toolCall({}, 1), undefined, callId, [handler.ask]));
    return { handler, state: answer.result.requestState as string, answer };
  }

  it('answers an input-required result carrying the request and an opaque requestState', async () => {
    const { answer, state } = await firstRound('call-a');
    expect(answer).toMatchObject({
      jsonrpc: '2.0',
      id: 1,
      result: {
        resultType: 'input_required',
        inputRequests: { user_name: { method: 'elicitation/create', params: { message: 'Name?' } } },
      },
    });
    expect(state).not.toContain('INBOX');
  });

  it("hands the client's answer to the waiting handler and answers the retry with the call's result", async () => {
    const { handler, state } = await firstRound('call-b');
    const res = new RecordingResponse();
    const accepted = { action: 'accept', content: { name: 'Ada' } };
    const resumed = replicaB.resume({
      res: res as unknown as ServerResponse,
      request: toolCall({ inputResponses: { user_name: accepted }, requestState: state }, 2),
      fields: '"resultType":"complete"',
    });
    await expect(handler.reply).resolves.toEqual({ ok: true, result: accepted });
    // The call goes on where it runs, and says what came of it.
    replicaA.publish('call-b', { type: 'result', result: { content: [{ type: 'text', text: 'Hello, Ada!' }] } });
    await resumed;
    expect(res.status).toBe(200);
    expect(res.json()).toEqual({
      jsonrpc: '2.0',
      id: 2,
      result: { resultType: 'complete', content: [{ type: 'text', text: 'Hello, Ada!' }] },
    });
  });

  it('answers the retry with another input-required result when the call asks again', async () => {
    const { handler, state } = await firstRound('call-c');
    const res = new RecordingResponse();
    const resumed = replicaB.resume({
      res: res as unknown as ServerResponse,
      request: toolCall({ inputResponses: { user_name: { action: 'decline' } }, requestState: state }, 3),
      fields: '"resultType":"complete"',
    });
    // The call asks again only once its handler has the first answer.
    await handler.reply;
    const next = waitingHandler();
    await nats.connection.flush();
    replicaA.publish('call-c', { type: 'input', asks: [{ ...next.ask, key: 'step2' }] });
    await resumed;
    const answer = res.json();
    expect(answer.result).toMatchObject({ resultType: 'input_required', inputRequests: { step2: {} } });
    expect(answer.result?.['requestState']).not.toBe(state);
  });

  it('refuses a state used before, a state for another tool and an answer that is not an elicitation result', async () => {
    const { handler, state } = await firstRound('call-d');
    const retry = (params: Record<string, unknown>) =>
      replicaB.resume({
        res: new RecordingResponse() as unknown as ServerResponse,
        request: toolCall({ requestState: state, ...params }, 4),
        fields: '',
      });
    await expect(retry({ inputResponses: { user_name: 42 } })).rejects.toBeInstanceOf(StatelessRejection);
    await expect(retry({ name: 'other' })).rejects.toMatchObject({ code: -32602, status: 400 });
    const res = new RecordingResponse();
    const first = replicaB.resume({
      res: res as unknown as ServerResponse,
      request: toolCall({ inputResponses: { user_name: { action: 'cancel' } }, requestState: state }, 5),
      fields: '"resultType":"complete"',
    });
    await expect(retry({ inputResponses: { user_name: { action: 'cancel' } } })).rejects.toMatchObject({
      code: -32602,
      message: expect.stringMatching(/requestState/),
    });
    await handler.reply;
    replicaA.publish('call-d', { type: 'error', status: 200, error: { code: -32603, message: 'Internal error' } });
    await first;
    expect(res.json().error).toEqual({ code: -32603, message: 'Internal error' });
  });
});
