import { Fabric } from './support/fabric';
import { metricValue } from './support/metrics';
import { eventually } from './support/processes';
import { McpExchange, type RpcMessage } from './support/sse';

/**
 * A handler talks to its client across the bus and across gateway replicas: the test addresses each
 * gateway directly, so every step is known to have crossed from one replica to the other.
 */
describe('a handler and its client, across gateway replicas', () => {
  let fabric: Fabric;
  let a: string;
  let b: string;
  let nextId = 1;

  beforeAll(async () => {
    fabric = await Fabric.start({ gateways: 2, services: [{ app: 'testbed-service' }] });
    [a, b] = fabric.gateways.map((gateway) => `${gateway.url}/mcp`);
  }, 60_000);

  afterAll(() => fabric?.stop());

  /** A session initialized on `url` with the given client capabilities; returns its request headers. */
  async function session(url: string, capabilities: Record<string, unknown>): Promise<Record<string, string>> {
    const init = await McpExchange.open(
      'POST',
      url,
      {},
      {
        jsonrpc: '2.0',
        id: 0,
        method: 'initialize',
        params: { protocolVersion: '2025-11-25', capabilities, clientInfo: { name: 'e2e', version: '1' } },
      },
    );
    expect((await init.next())?.result).toBeDefined();
    const headers = {
      'mcp-session-id': init.response.headers.get('mcp-session-id')!,
      'mcp-protocol-version': '2025-11-25',
    };
    const initialized = await McpExchange.open('POST', url, headers, {
      jsonrpc: '2.0',
      method: 'notifications/initialized',
    });
    expect(initialized.status).toBe(202);
    return headers;
  }

  function call(url: string, headers: Record<string, string>, name: string, args: object, meta?: object) {
    return McpExchange.open('POST', url, headers, {
      jsonrpc: '2.0',
      id: nextId++,
      method: 'tools/call',
      params: { name, arguments: args, ...(meta ? { _meta: meta } : {}) },
    });
  }

  async function post(url: string, headers: Record<string, string>, message: object): Promise<RpcMessage[]> {
    const exchange = await McpExchange.open('POST', url, headers, { jsonrpc: '2.0', ...message });
    expect(exchange.status).toBeLessThan(300);
    return exchange.rest();
  }

  const textOf = (message: RpcMessage | undefined) =>
    ((message?.result?.['content'] as { text: string }[] | undefined) ?? []).map((block) => block.text).join('');

  it('sampling: the request reaches the client on the call stream, the answer posted to the other replica reaches the handler', async () => {
    const headers = await session(a, { sampling: {} });
    const forwardedBefore = await metricValue(
      fabric.gateways[1].url,
      'fabric_gateway_client_responses_forwarded_total',
    );
    const stream = await call(a, headers, 'testbed_ask_model', { prompt: 'What is NATS?' });

    const request = await stream.next();
    expect(request?.method).toBe('sampling/createMessage');
    expect(request?.params).toMatchObject({
      messages: [{ role: 'user', content: { type: 'text', text: 'What is NATS?' } }],
    });
    const accepted = await McpExchange.open('POST', b, headers, {
      jsonrpc: '2.0',
      id: request!.id,
      result: { role: 'assistant', content: { type: 'text', text: 'A messaging system.' }, model: 'e2e-model' },
    });
    expect(accepted.status).toBe(202);

    expect(textOf(await stream.next())).toBe('model said: A messaging system.');
    expect(await metricValue(fabric.gateways[1].url, 'fabric_gateway_client_responses_forwarded_total')).toBe(
      forwardedBefore + 1,
    );
  });

  it('elicitation: the user answer posted to the other replica reaches the handler; a client without the capability gets a tool error', async () => {
    const headers = await session(b, { elicitation: {} });
    const stream = await call(a, headers, 'testbed_ask_user', { message: 'Who are you?' });
    const request = await stream.next();
    expect(request).toMatchObject({ method: 'elicitation/create', params: { message: 'Who are you?' } });
    await post(b, headers, { id: request!.id, result: { action: 'accept', content: { name: 'Ada' } } });
    expect(textOf(await stream.next())).toBe('action=accept content={"name":"Ada"}');

    const bare = await session(a, {});
    const refused = await (await call(b, bare, 'testbed_ask_user', { message: 'Who are you?' })).next();
    expect(refused?.result?.['isError']).toBe(true);
    expect(textOf(refused)).toMatch(/does not support form elicitation/);
  });

  it('only the session that was asked can answer, and an answer that breaks the requested schema is refused', async () => {
    const headers = await session(a, { sampling: {}, elicitation: {} });
    const intruder = await session(b, { sampling: {} });
    const stream = await call(a, headers, 'testbed_ask_model', { prompt: 'Whose question?' });
    const request = await stream.next();
    const answer = (text: string) => ({
      id: request!.id,
      result: { role: 'assistant', content: { type: 'text', text }, model: 'e2e-model' },
    });
    await post(b, intruder, answer('the intruder'));
    await post(b, headers, answer('the client'));
    expect(textOf(await stream.next())).toBe('model said: the client');

    const form = await call(b, headers, 'testbed_ask_user', { message: 'Your name?' });
    const elicitation = await form.next();
    await post(a, headers, { id: elicitation!.id, result: { action: 'accept', content: { name: 42 } } });
    const refused = await form.next();
    expect(refused?.result?.['isError']).toBe(true);
    expect(textOf(refused)).toMatch(/does not match the requested schema: name/);
  });

  it('progress and logs reach the client before the result, filtered by the level set on the other replica', async () => {
    const headers = await session(a, {});
    await post(a, headers, { id: nextId++, method: 'logging/setLevel', params: { level: 'warning' } });
    // The level travels through the session store; give the other replica's copy a moment.
    await new Promise((resolve) => setTimeout(resolve, 200));

    const quiet = await call(b, headers, 'testbed_progress_steps', { steps: 3, ms: 20 }, { progressToken: 'tok' });
    expect(quiet.contentType).toContain('text/event-stream');
    const messages = await quiet.rest();
    expect(messages.map((message) => message.method ?? 'result')).toEqual([
      'notifications/progress',
      'notifications/progress',
      'notifications/progress',
      'result',
    ]);
    expect(messages.slice(0, 3).map((message) => message.params)).toEqual([
      { progressToken: 'tok', progress: 1, total: 3, message: 'step 1 of 3' },
      { progressToken: 'tok', progress: 2, total: 3, message: 'step 2 of 3' },
      { progressToken: 'tok', progress: 3, total: 3, message: 'step 3 of 3' },
    ]);

    await post(b, headers, { id: nextId++, method: 'logging/setLevel', params: { level: 'info' } });
    await new Promise((resolve) => setTimeout(resolve, 200));
    const chatty = await (await call(a, headers, 'testbed_progress_steps', { steps: 2, ms: 0 })).rest();
    expect(chatty.map((message) => message.method ?? 'result')).toEqual([
      'notifications/message',
      'notifications/message',
      'result',
    ]);
    expect(chatty[0].params).toMatchObject({ level: 'info', data: 'step 1 of 2' });
  });

  it('notifications/cancelled posted to the other replica stops the handler where it runs', async () => {
    const headers = await session(a, {});
    const stats = async () => {
      const result = (await (await call(a, headers, 'testbed_stats', {})).next())?.result;
      return (result?.['structuredContent'] as { aborted: number }).aborted;
    };
    const abortedBefore = await stats();
    const receivedBefore = await metricValue(fabric.gateways[0].url, 'fabric_gateway_cancellations_received_total');

    const id = nextId++;
    const started = Date.now();
    // Not awaited: a call that emits nothing answers with plain JSON, so its headers come with its end.
    const running = McpExchange.open('POST', a, headers, {
      jsonrpc: '2.0',
      id,
      method: 'tools/call',
      params: { name: 'testbed_sleep', arguments: { ms: 900 } },
    });
    await new Promise((resolve) => setTimeout(resolve, 150));
    await post(b, headers, { method: 'notifications/cancelled', params: { requestId: id, reason: 'changed my mind' } });

    // A cancelled request gets no response; its exchange ends well before the handler would have.
    expect(await (await running).rest()).toEqual([]);
    expect(Date.now() - started).toBeLessThan(800);
    await eventually(async () => (await stats()) === abortedBefore + 1, 5_000, 'the handler to be aborted');
    expect(await metricValue(fabric.gateways[0].url, 'fabric_gateway_cancellations_received_total')).toBe(
      receivedBefore + 1,
    );
  });

  it('a POST stream cut mid-call resumes with Last-Event-ID on the other replica, from where it stopped to its end', async () => {
    const headers = await session(a, {});
    // Progress only (the steps' info logs are filtered out): the client sees one event, then goes away.
    await post(a, headers, { id: nextId++, method: 'logging/setLevel', params: { level: 'warning' } });
    const stream = await call(a, headers, 'testbed_progress_steps', { steps: 4, ms: 150 }, { progressToken: 7 });
    expect((await stream.next())?.params).toMatchObject({ progress: 1 });
    const lastSeen = stream.lastEventId!;
    expect(lastSeen).toMatch(/^[a-z0-9]+_\d+$/);
    stream.close();

    // The call goes on without its client (a stream can be resumed); the rest is read from the other replica.
    const resumed = await McpExchange.open('GET', b, { ...headers, 'last-event-id': lastSeen });
    expect(resumed.status).toBe(200);
    const rest = await resumed.rest();
    expect(rest.map((message) => message.params?.['progress'] ?? textOf(message))).toEqual([2, 3, 4, 'done 4 steps']);
    expect(new Set(resumed.eventIds).size).toBe(4);
    expect(resumed.eventIds).not.toContain(lastSeen);
  });

  it('the GET stream resumes on the other replica after the last event the client saw', async () => {
    const headers = await session(a, {});
    const uri = 'testbed://counter';
    await post(a, headers, { id: nextId++, method: 'resources/subscribe', params: { uri } });
    const first = await McpExchange.open('GET', a, headers);
    await new Promise((resolve) => setTimeout(resolve, 200));
    const other = await session(b, {});
    await (await call(b, other, 'testbed_bump_counter', {})).rest();
    await (await call(b, other, 'testbed_bump_counter', {})).rest();
    await first.next();
    const seenFirst = first.eventIds[0]!;
    await first.next();
    first.close();

    const resumed = await McpExchange.open('GET', b, { ...headers, 'last-event-id': seenFirst });
    expect(await resumed.next()).toMatchObject({ method: 'notifications/resources/updated', params: { uri } });
    expect(resumed.eventIds[0]).toBe(first.eventIds[1]);
    // Then it is the session's live stream on that replica.
    await (await call(a, other, 'testbed_bump_counter', {})).rest();
    expect(await resumed.next()).toMatchObject({ method: 'notifications/resources/updated', params: { uri } });
    resumed.close();
  });

  it('resources/updated reaches a subscribed session on whichever replica holds its stream, and stops after unsubscribe', async () => {
    const headers = await session(a, {});
    const uri = 'testbed://counter';
    await post(a, headers, { id: nextId++, method: 'resources/subscribe', params: { uri } });
    const stream = await McpExchange.open('GET', b, headers);
    expect(stream.status).toBe(200);
    await new Promise((resolve) => setTimeout(resolve, 200));

    const other = await session(a, {});
    await (await call(a, other, 'testbed_bump_counter', {})).rest();
    expect(await stream.next()).toMatchObject({ method: 'notifications/resources/updated', params: { uri } });

    await post(b, headers, { id: nextId++, method: 'resources/unsubscribe', params: { uri } });
    await new Promise((resolve) => setTimeout(resolve, 200));
    await (await call(a, other, 'testbed_bump_counter', {})).rest();
    await expect(stream.next(1_000)).rejects.toThrow(/no message/);
    stream.close();

    const unknown = await post(a, headers, {
      id: nextId++,
      method: 'resources/subscribe',
      params: { uri: 'testbed://nothing-here' },
    });
    expect(unknown[0].error?.code).toBe(-32002);
  });
});
