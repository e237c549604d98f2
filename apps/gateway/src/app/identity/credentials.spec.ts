import { extractCredential, looksLikeJwt } from './credentials';

describe('extractCredential', () => {
  it('reads a bearer token from Authorization, whatever the case of the scheme', () => {
    expect(extractCredential({ authorization: 'Bearer abc.def.ghi' }, '/mcp')).toEqual({
      kind: 'bearer',
      value: 'abc.def.ghi',
    });
    expect(extractCredential({ authorization: 'bearer k-1_x' }, '/mcp')).toEqual({ kind: 'bearer', value: 'k-1_x' });
  });

  it('reads an API key from X-API-Key', () => {
    expect(extractCredential({ 'x-api-key': ' secret ' }, '/mcp')).toEqual({ kind: 'api-key', value: 'secret' });
  });

  it('finds nothing on a request without credentials', () => {
    expect(extractCredential({}, '/mcp')).toBeUndefined();
  });

  it.each(['/mcp?access_token=abc', '/mcp/?x=1&token=abc', '/mcp?api_key=abc'])(
    'refuses a credential in the query string (%s), even beside a header',
    (url) => {
      expect(extractCredential({ authorization: 'Bearer abc' }, url)).toBe('query');
    },
  );

  it.each([
    ['another scheme', { authorization: 'Basic dXNlcjpwdw==' }],
    ['an empty bearer', { authorization: 'Bearer ' }],
    ['a token with spaces', { authorization: 'Bearer a b' }],
    ['an empty API key', { 'x-api-key': '' }],
    ['both headers at once', { authorization: 'Bearer a', 'x-api-key': 'b' }],
  ])('calls %s malformed', (_what, headers) => {
    expect(extractCredential(headers, '/mcp')).toBe('malformed');
  });
});

describe('looksLikeJwt', () => {
  it('tells a compact JWS from an opaque key', () => {
    expect(looksLikeJwt('eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJhIn0.c2ln')).toBe(true);
    expect(looksLikeJwt('fk_live_0123456789abcdef')).toBe(false);
  });
});
