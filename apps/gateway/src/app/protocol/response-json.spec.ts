import { successJson } from './response-json';

describe('successJson', () => {
  it('is the JSON of the JSON-RPC response, for string and number ids', () => {
    const result = { content: [{ type: 'text', text: 'a "quoted" line\n' }] };
    expect(JSON.parse(successJson(7, result))).toEqual({ jsonrpc: '2.0', id: 7, result });
    expect(JSON.parse(successJson('r"1', result))).toEqual({ jsonrpc: '2.0', id: 'r"1', result });
  });

  it('serializes one result object once, however often it is answered', () => {
    const result = { content: [] as unknown[] };
    const first = successJson(1, result);
    result.content.push('changed after it was answered');
    expect(successJson(2, result)).toBe(first.replace('"id":1', '"id":2'));
  });
});
