import { RPC } from '../../operations/rpc.error';
import {
  META,
  RPC_2026,
  StatelessRejection,
  checkParamHeaders,
  paramHeaderValue,
  statelessRequest,
} from './stateless-request';

const envelope = { [META.protocolVersion]: '2026-07-28', [META.clientCapabilities]: {} };
const headers = (extra: Record<string, string> = {}) => ({
  'mcp-protocol-version': '2026-07-28',
  'mcp-method': 'tools/call',
  'mcp-name': 'echo',
  ...extra,
});
const call = (params: Record<string, unknown> = {}) => ({
  jsonrpc: '2.0',
  id: 7,
  method: 'tools/call',
  params: { name: 'echo', _meta: envelope, ...params },
});

function rejection(run: () => unknown): StatelessRejection {
  try {
    run();
  } catch (error) {
    if (error instanceof StatelessRejection) return error;
    throw error;
  }
  throw new Error('not rejected');
}

describe('statelessRequest', () => {
  it('accepts a request whose headers agree with its body, whitespace around the values allowed', () => {
    const request = statelessRequest(headers({ 'mcp-name': '  echo ' }), call());
    expect(request).toMatchObject({ id: 7, method: 'tools/call', capabilities: {} });
  });

  it('refuses a request without its _meta envelope with 400 -32602, echoing its id', () => {
    const error = rejection(() => statelessRequest(headers(), { ...call(), params: { name: 'echo' } }));
    expect([error.status, error.code, error.id]).toEqual([400, RPC.InvalidParams, 7]);
  });

  it('refuses a version header that disagrees with _meta as a header mismatch', () => {
    const error = rejection(() => statelessRequest(headers({ 'mcp-protocol-version': '2026-01-01' }), call()));
    expect([error.status, error.code]).toEqual([400, RPC_2026.HeaderMismatch]);
  });

  it('refuses a revision it does not serve, listing the ones it does', () => {
    const meta = { ...envelope, [META.protocolVersion]: 'v999' };
    const error = rejection(() => statelessRequest(headers({ 'mcp-protocol-version': 'v999' }), call({ _meta: meta })));
    expect([error.status, error.code, error.data]).toEqual([
      400,
      RPC_2026.UnsupportedProtocolVersion,
      { supported: ['2026-07-28'], requested: 'v999' },
    ]);
  });

  it('refuses a missing or different Mcp-Method or Mcp-Name (values are case-sensitive)', () => {
    for (const bad of [{ 'mcp-method': 'TOOLS/CALL' }, { 'mcp-name': 'other' }] as Record<string, string>[]) {
      expect(rejection(() => statelessRequest(headers(bad), call())).code).toBe(RPC_2026.HeaderMismatch);
    }
    const { 'mcp-name': _name, ...withoutName } = headers();
    expect(rejection(() => statelessRequest(withoutName, call())).code).toBe(RPC_2026.HeaderMismatch);
  });

  it('reads the log level and the progress token of the envelope', () => {
    const meta = { ...envelope, [META.logLevel]: 'warning', progressToken: 'p1' };
    expect(statelessRequest(headers(), call({ _meta: meta }))).toMatchObject({
      logLevel: 'warning',
      progressToken: 'p1',
    });
  });

  it('a notification has nothing to answer', () => {
    expect(statelessRequest(headers(), { jsonrpc: '2.0', method: 'notifications/cancelled' })).toBeUndefined();
  });
});

describe('Mcp-Param headers', () => {
  const schema = { type: 'object', properties: { region: { type: 'string', 'x-mcp-header': 'Region' } } };

  it('decodes =?base64?…?= values and takes anything else literally', () => {
    expect(paramHeaderValue('=?base64?SGVsbG8=?=')).toBe('Hello');
    expect(paramHeaderValue('SGVsbG8=')).toBe('SGVsbG8=');
    expect(paramHeaderValue('=?base64?SGVsbG8?=')).toBeUndefined();
    expect(paramHeaderValue('=?base64?SGVs!!!bG8=?=')).toBeUndefined();
  });

  it('an argument marked x-mcp-header needs its header, with the same value', () => {
    expect(() => checkParamHeaders({ 'mcp-param-region': 'eu' }, schema, { region: 'eu' }, 1)).not.toThrow();
    expect(() => checkParamHeaders({}, schema, {}, 1)).not.toThrow();
    expect(rejection(() => checkParamHeaders({}, schema, { region: 'eu' }, 1)).code).toBe(RPC_2026.HeaderMismatch);
    expect(rejection(() => checkParamHeaders({ 'mcp-param-region': 'us' }, schema, { region: 'eu' }, 1)).status).toBe(
      400,
    );
  });
});
