import { detectEra } from './era';

describe('detectEra', () => {
  const call = { jsonrpc: '2.0', id: 1, method: 'tools/call', params: { name: 'echo' } };

  it('a request naming a session is session traffic, whatever it declares', () => {
    expect(detectEra({ 'mcp-session-id': 'abc', 'mcp-protocol-version': '2026-07-28' }, call)).toBe('session-2025');
  });

  it('an initialize without headers is session traffic', () => {
    expect(detectEra({}, { jsonrpc: '2.0', id: 1, method: 'initialize', params: {} })).toBe('session-2025');
  });

  it('the version header decides without a session', () => {
    expect(detectEra({ 'mcp-protocol-version': '2025-11-25' }, call)).toBe('session-2025');
    expect(detectEra({ 'mcp-protocol-version': '2026-07-28' }, call)).toBe('stateless-2026');
  });

  it("the request's _meta protocol version counts when there is no header", () => {
    const modern = {
      ...call,
      params: { name: 'echo', _meta: { 'io.modelcontextprotocol/protocolVersion': '2026-07-28' } },
    };
    expect(detectEra({}, modern)).toBe('stateless-2026');
  });

  it('a body that is not a request (a batch, garbage) is session traffic', () => {
    expect(detectEra({}, [call])).toBe('session-2025');
    expect(detectEra({}, 'nonsense')).toBe('session-2025');
    expect(detectEra({}, null)).toBe('session-2025');
  });
});
