import { ConfigError } from '@fabric/platform-config';
import {
  BridgeConfigError,
  firstMatch,
  globMatches,
  loadBridgeConfig,
  splitCommandLine,
  upstreamEnv,
} from './bridge.config';

describe('bridge configuration', () => {
  it('splits a command line with quotes and escapes', () => {
    expect(splitCommandLine(`node  /srv/server.js stdio --name "a b" 'c "d"' e\\ f ""`)).toEqual([
      'node',
      '/srv/server.js',
      'stdio',
      '--name',
      'a b',
      'c "d"',
      'e f',
      '',
    ]);
    expect(() => splitCommandLine('node "open')).toThrow(BridgeConfigError);
  });

  it('passes on only BRIDGE_ENV_* variables, without their prefix', () => {
    expect(
      upstreamEnv({ BRIDGE_ENV_API_KEY: 'k', BRIDGE_ENV_: 'x', NATS_URL: 'nats://secret', BRIDGE_NAME: 'a' }),
    ).toEqual({
      API_KEY: 'k',
    });
  });

  it('reads a stdio upstream with its defaults', () => {
    const config = loadBridgeConfig({
      BRIDGE_NAME: 'everything',
      BRIDGE_COMMAND: 'node server.js stdio',
      BRIDGE_ENV_TOKEN: 't',
    });
    expect(config).toMatchObject({
      name: 'everything',
      target: { kind: 'stdio', command: 'node', args: ['server.js', 'stdio'], env: { TOKEN: 't' } },
      pool: 2,
      callsPerProcess: 1,
      cache: {},
      scopes: {},
    });
  });

  it('reads an HTTP upstream with its headers, cache policies and scopes by glob', () => {
    const config = loadBridgeConfig({
      BRIDGE_NAME: 'remote',
      BRIDGE_URL: 'https://mcp.example.com/mcp',
      BRIDGE_HEADERS: '{"authorization":"Bearer x"}',
      BRIDGE_POOL: '4',
      BRIDGE_CALLS_PER_PROCESS: '8',
      BRIDGE_CACHE: '{"get-*":{"ttlMs":60000,"scope":"principal"}}',
      BRIDGE_SCOPES: '{"*":["remote:use"]}',
    });
    expect(config.target).toEqual({
      kind: 'http',
      url: new URL('https://mcp.example.com/mcp'),
      headers: { authorization: 'Bearer x' },
    });
    expect(config.pool).toBe(4);
    expect(config.callsPerProcess).toBe(8);
    expect(config.cache).toEqual({ 'get-*': { ttlMs: 60_000, scope: 'principal' } });
    expect(config.scopes).toEqual({ '*': ['remote:use'] });
  });

  it.each([
    [{ BRIDGE_NAME: 'x' }, 'exactly one of BRIDGE_COMMAND'],
    [{ BRIDGE_NAME: 'x', BRIDGE_COMMAND: 'a', BRIDGE_URL: 'http://h/mcp' }, 'exactly one of BRIDGE_COMMAND'],
    [{ BRIDGE_NAME: 'Bad_Name', BRIDGE_COMMAND: 'a' }, 'BRIDGE_NAME'],
    [{ BRIDGE_NAME: 'x', BRIDGE_URL: 'not a url' }, 'BRIDGE_URL'],
    [{ BRIDGE_NAME: 'x', BRIDGE_COMMAND: 'a', BRIDGE_CACHE: '{' }, 'BRIDGE_CACHE is not JSON'],
    [{ BRIDGE_NAME: 'x', BRIDGE_COMMAND: 'a', BRIDGE_CACHE: '{"*":{"ttlMs":-1}}' }, 'BRIDGE_CACHE.*.ttlMs'],
    [{ BRIDGE_NAME: 'x', BRIDGE_URL: 'http://h/mcp', BRIDGE_HEADERS: '{"a":1}' }, 'BRIDGE_HEADERS.a'],
  ])('refuses %j', (env, message) => {
    expect(() => loadBridgeConfig(env)).toThrow(ConfigError);
    expect(() => loadBridgeConfig(env)).toThrow(message);
  });

  it('never puts a header value in its error', () => {
    expect(() =>
      loadBridgeConfig({ BRIDGE_NAME: 'x', BRIDGE_URL: 'http://h/mcp', BRIDGE_HEADERS: '{"a":"s3cret"' }),
    ).toThrow(/^(?!.*s3cret)/s);
  });

  it('matches tool names by glob, first match winning', () => {
    expect(globMatches('get-*', 'get-sum')).toBe(true);
    expect(globMatches('get-?um', 'get-sum')).toBe(true);
    expect(globMatches('get-*', 'echo')).toBe(false);
    expect(globMatches('a.b', 'aXb')).toBe(false);
    expect(firstMatch({ 'get-sum': 1, 'get-*': 2, '*': 3 }, 'get-sum')).toBe(1);
    expect(firstMatch({ 'get-sum': 1, 'get-*': 2, '*': 3 }, 'get-env')).toBe(2);
    expect(firstMatch({ 'get-*': 2 }, 'echo')).toBeUndefined();
  });
});
