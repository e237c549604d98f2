import { directRequest } from './direct-request';
import { isMcpPath } from '../http/mcp.endpoint';

const request = (method: string, params: unknown, id: unknown = 1) => ({ jsonrpc: '2.0', id, method, params });

describe('directRequest', () => {
  it('takes a tools/call with its name, arguments and progress token', () => {
    expect(
      directRequest(
        request('tools/call', { name: 'echo', arguments: { text: 'hi' }, _meta: { progressToken: 'p1' } }, 'a'),
      ),
    ).toEqual({ id: 'a', method: 'tools/call', name: 'echo', arguments: { text: 'hi' }, progressToken: 'p1' });
    expect(directRequest(request('tools/call', { name: 'echo' }))).toEqual({
      id: 1,
      method: 'tools/call',
      name: 'echo',
      arguments: undefined,
    });
  });

  it("carries a tools/call's idempotency key from _meta, and leaves one that is not a string to the SDK's path", () => {
    expect(directRequest(request('tools/call', { name: 'bump', _meta: { idempotencyKey: 'k1' } }))).toMatchObject({
      method: 'tools/call',
      idempotencyKey: 'k1',
    });
    expect(directRequest(request('tools/call', { name: 'bump', _meta: { idempotencyKey: 7 } }))).toBeUndefined();
  });

  it('leaves a tools/call run as a task to the SDK path', () => {
    expect(directRequest(request('tools/call', { name: 'job', task: { ttl: 60_000 } }))).toBeUndefined();
    expect(directRequest(request('tools/call', { name: 'job', task: {} }))).toBeUndefined();
  });

  it('takes resources/read with a string uri, and prompts/get with string arguments', () => {
    expect(directRequest(request('resources/read', { uri: 'docs://a' }))).toEqual({
      id: 1,
      method: 'resources/read',
      uri: 'docs://a',
    });
    expect(directRequest(request('prompts/get', { name: 'greet', arguments: { who: 'Ada' } }, 7))).toEqual({
      id: 7,
      method: 'prompts/get',
      name: 'greet',
      arguments: { who: 'Ada' },
    });
  });

  it.each([
    ['a batch', [request('tools/call', { name: 'echo' })]],
    ['a notification', { jsonrpc: '2.0', method: 'tools/call', params: { name: 'echo' } }],
    ['another JSON-RPC version', { ...request('tools/call', { name: 'echo' }), jsonrpc: '1.0' }],
    ['a fractional id', request('tools/call', { name: 'echo' }, 1.5)],
    ['a null id', request('tools/call', { name: 'echo' }, null)],
    ['missing params', { jsonrpc: '2.0', id: 1, method: 'tools/call' }],
    ['a name that is not a string', request('tools/call', { name: 42 })],
    ['arguments that are an array', request('tools/call', { name: 'echo', arguments: ['x'] })],
    ['a progress token that is an object', request('tools/call', { name: 'echo', _meta: { progressToken: {} } })],
    ['_meta that is not an object', request('tools/call', { name: 'echo', _meta: 'x' })],
    ['resources/read without a uri', request('resources/read', {})],
    ['prompts/get with a non-string argument', request('prompts/get', { name: 'greet', arguments: { n: 1 } })],
    ['another method', request('tools/list', {})],
    ['a response', { jsonrpc: '2.0', id: 1, result: {} }],
    ['not an object', 'tools/call'],
  ])('leaves %s to the SDK path', (_what, body) => {
    expect(directRequest(body)).toBeUndefined();
  });
});

describe('isMcpPath', () => {
  it.each(['/mcp', '/mcp/', '/mcp?x=1', '/mcp/?x=1'])('%s is the endpoint', (url) => {
    expect(isMcpPath(url)).toBe(true);
  });

  it.each(['/mcpx', '/mc', '/healthz', '/metrics', '/', '', undefined])('%s is not', (url) => {
    expect(isMcpPath(url)).toBe(false);
  });
});
