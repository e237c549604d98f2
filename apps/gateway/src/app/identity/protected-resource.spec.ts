import { Socket } from 'node:net';
import { challengeHeader, metadataUrlOf, protectedResourceMetadata, resourceOf } from './protected-resource';

describe('protected resource metadata', () => {
  it('puts the metadata of a resource with a path below the well-known path (RFC 9728 §3.1)', () => {
    expect(metadataUrlOf('https://gw.example/mcp')).toBe('https://gw.example/.well-known/oauth-protected-resource/mcp');
    expect(metadataUrlOf('https://gw.example:8443/')).toBe(
      'https://gw.example:8443/.well-known/oauth-protected-resource',
    );
  });

  it('names the audience as the resource, or else the endpoint on the Host the client used', () => {
    const req = { headers: { host: 'localhost:3000' }, socket: new Socket() };
    expect(resourceOf('https://gw.example/mcp', req)).toBe('https://gw.example/mcp');
    expect(resourceOf(undefined, req)).toBe('http://localhost:3000/mcp');
  });

  it('lists the issuer, every scope once and sorted, and the header as the only bearer method', () => {
    expect(protectedResourceMetadata('https://gw.example/mcp', 'https://as.example', ['b', 'a', 'b'])).toEqual({
      resource: 'https://gw.example/mcp',
      authorization_servers: ['https://as.example'],
      scopes_supported: ['a', 'b'],
      bearer_methods_supported: ['header'],
    });
  });
});

describe('challengeHeader', () => {
  const resourceMetadata = 'https://gw.example/.well-known/oauth-protected-resource/mcp';

  it('without a token names only the metadata', () => {
    expect(challengeHeader({ resourceMetadata })).toBe(`Bearer resource_metadata="${resourceMetadata}"`);
  });

  it('for an invalid token says invalid_token', () => {
    expect(challengeHeader({ resourceMetadata, error: 'invalid_token', description: 'expired "now"' })).toBe(
      `Bearer error="invalid_token", error_description="expired \\"now\\"", resource_metadata="${resourceMetadata}"`,
    );
  });

  it('for a step-up names every scope needed', () => {
    expect(
      challengeHeader({ resourceMetadata, error: 'insufficient_scope', scope: ['files:read', 'files:write'] }),
    ).toBe(
      `Bearer error="insufficient_scope", scope="files:read files:write", resource_metadata="${resourceMetadata}"`,
    );
  });
});
