import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { SignJWT, exportJWK, generateKeyPair, type CryptoKey, type JWK } from 'jose';
import { createHash, randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Fabric, INITIALIZE, listAllTools, postRaw, textOf } from './support/fabric';
import { metricValue } from './support/metrics';

const AUDIENCE = 'https://gw.example/mcp';
const METADATA = 'https://gw.example/.well-known/oauth-protected-resource/mcp';
const API_KEY = `fk_${randomBytes(24).toString('base64url')}`;

interface Key {
  privateKey: CryptoKey;
  jwk: JWK;
}

async function signingKey(kid: string): Promise<Key> {
  const { privateKey, publicKey } = await generateKeyPair('ES256', { extractable: true });
  return { privateKey, jwk: { ...(await exportJWK(publicKey)), kid, alg: 'ES256', use: 'sig' } };
}

/** The authorization server: RFC 8414 metadata and its JWKS, on 127.0.0.1. */
async function startAuthorizationServer(keys: JWK[]): Promise<{ server: Server; issuer: string }> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const issuer = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  server.on('request', (req, res) => {
    res.setHeader('content-type', 'application/json');
    if (req.url === '/.well-known/oauth-authorization-server')
      res.end(JSON.stringify({ issuer, jwks_uri: `${issuer}/jwks` }));
    else if (req.url === '/jwks') res.end(JSON.stringify({ keys }));
    else res.writeHead(404).end('{}');
  });
  return { server, issuer };
}

const toolCall = (name: string, id = 2) =>
  JSON.stringify({ jsonrpc: '2.0', id, method: 'tools/call', params: { name, arguments: {} } });

// Two gateways behind a round-robin proxy, one testbed: consecutive requests of a client land on different
// gateways, so everything below holds across replicas.
describe('authentication and authorization at the gateway', () => {
  let fabric: Fabric;
  let as: { server: Server; issuer: string };
  let key: Key;
  let dir: string;

  beforeAll(async () => {
    key = await signingKey('k1');
    as = await startAuthorizationServer([key.jwk]);
    dir = mkdtempSync(join(tmpdir(), 'e2e-auth-'));
    const keysFile = join(dir, 'keys.json');
    writeFileSync(
      keysFile,
      JSON.stringify([
        {
          id: 'ci',
          sha256: createHash('sha256').update(API_KEY).digest('hex'),
          principal: 'svc:ci',
          scopes: ['testbed:read'],
        },
      ]),
    );
    const policyFile = join(dir, 'policy.json');
    writeFileSync(
      policyFile,
      JSON.stringify({
        tools: { 'testbed_slow_*': ['testbed:write'], 'testbed_*': ['testbed:read'] },
        prompts: { testbed_greet: ['testbed:prompts'] },
        resources: { 'testbed://counter': ['testbed:counter'] },
      }),
    );
    fabric = await Fabric.start({
      gateways: 2,
      gatewayEnv: {
        AUTH_ISSUER: as.issuer,
        AUTH_AUDIENCE: AUDIENCE,
        API_KEYS_FILE: keysFile,
        AUTH_POLICY_FILE: policyFile,
      },
      services: [{ app: 'testbed-service' }],
    });
  });

  afterAll(async () => {
    await fabric?.stop();
    as?.server.closeAllConnections();
    await new Promise((resolve) => as?.server.close(resolve));
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  const token = async (
    subject: string,
    scope: string,
    { issuer = as.issuer, audience = AUDIENCE, signer = key, expires = '5m' as string | number } = {},
  ) =>
    new SignJWT({ scope, client_id: 'e2e-client' })
      .setProtectedHeader({ alg: 'ES256', kid: signer.jwk.kid as string })
      .setSubject(subject)
      .setIssuer(issuer)
      .setAudience(audience)
      .setIssuedAt()
      .setExpirationTime(expires)
      .sign(signer.privateKey);

  const bearer = (jwt: string) => ({ authorization: `Bearer ${jwt}` });

  /** An initialized session of the holder of `headers`: its id. */
  async function session(headers: Record<string, string>): Promise<string> {
    const response = await postRaw(fabric.mcpUrl, INITIALIZE, headers);
    expect(response.status).toBe(200);
    return response.headers.get('mcp-session-id') as string;
  }

  async function connect(jwt: string): Promise<Client> {
    const client = new Client({ name: 'e2e-auth', version: '1.0.0' }, { capabilities: {} });
    await client.connect(
      new StreamableHTTPClientTransport(new URL(fabric.mcpUrl), { requestInit: { headers: bearer(jwt) } }),
    );
    return client;
  }

  it('answers a request without a token with 401 and the resource metadata to find the authorization server', async () => {
    const response = await postRaw(fabric.mcpUrl, INITIALIZE);
    expect(response.status).toBe(401);
    expect(response.headers.get('www-authenticate')).toBe(`Bearer resource_metadata="${METADATA}"`);
  });

  it('refuses expired, wrong-audience, wrong-issuer and foreign-key tokens with 401 invalid_token, on every gateway', async () => {
    const foreign = await signingKey('k1');
    const tokens = [
      await token('alice', 'testbed:read', { expires: Math.floor(Date.now() / 1000) - 600 }),
      await token('alice', 'testbed:read', { audience: 'https://other.example/mcp' }),
      await token('alice', 'testbed:read', { issuer: 'https://evil.example' }),
      await token('alice', 'testbed:read', { signer: foreign }),
    ];
    for (const jwt of tokens) {
      for (let replica = 0; replica < 2; replica++) {
        const response = await postRaw(fabric.mcpUrl, INITIALIZE, bearer(jwt));
        expect(response.status).toBe(401);
        const challenge = response.headers.get('www-authenticate') ?? '';
        expect(challenge).toContain('error="invalid_token"');
        expect(challenge).toContain(`resource_metadata="${METADATA}"`);
      }
    }
    const rejected = await Promise.all(
      fabric.gateways.map((gateway) => metricValue(gateway.url, 'fabric_gateway_auth_total', { outcome: 'rejected' })),
    );
    expect(rejected.reduce((a, b) => a + b, 0)).toBeGreaterThanOrEqual(8);
  });

  it('refuses a token in the query string', async () => {
    const jwt = await token('alice', 'testbed:read');
    const response = await postRaw(`${fabric.mcpUrl}?access_token=${jwt}`, INITIALIZE);
    expect(response.status).toBe(401);
    expect(response.headers.get('www-authenticate')).toContain('error="invalid_request"');
  });

  it('serves the protected resource metadata (RFC 9728) at both well-known paths', async () => {
    for (const path of ['/.well-known/oauth-protected-resource/mcp', '/.well-known/oauth-protected-resource']) {
      const response = await fetch(`${fabric.gateway.url}${path}`);
      expect(response.status).toBe(200);
      expect(await response.json()).toEqual({
        resource: AUDIENCE,
        authorization_servers: [as.issuer],
        scopes_supported: ['testbed:counter', 'testbed:prompts', 'testbed:read', 'testbed:write'],
        bearer_methods_supported: ['header'],
      });
    }
  });

  it('lists to a principal only the tools its scopes allow', async () => {
    const reader = await connect(await token('alice', 'testbed:read'));
    const writer = await connect(await token('bob', 'testbed:read testbed:write'));
    try {
      const readable = await listAllTools(reader);
      expect(readable).toContain('testbed_whoami');
      expect(readable.filter((name) => name.startsWith('testbed_slow_'))).toEqual([]);
      expect((await listAllTools(writer)).filter((name) => name.startsWith('testbed_slow_')).length).toBeGreaterThan(0);
    } finally {
      await Promise.all([reader.close(), writer.close()]);
    }
  });

  it('answers a call that needs a scope the principal lacks with 403 insufficient_scope naming it, and never runs it', async () => {
    const headers = bearer(await token('alice', 'testbed:read'));
    const id = await session(headers);
    for (let replica = 0; replica < 2; replica++) {
      const response = await postRaw(fabric.mcpUrl, toolCall('testbed_slow_write'), {
        ...headers,
        'mcp-session-id': id,
      });
      expect(response.status).toBe(403);
      expect(response.headers.get('www-authenticate')).toBe(
        `Bearer error="insufficient_scope", scope="testbed:write", resource_metadata="${METADATA}"`,
      );
      expect(response.json).toMatchObject({ jsonrpc: '2.0', id: 2, error: { code: -32000 } });
    }
    const served = await metricValue(fabric.replicas('testbed-service')[0].url, 'fabric_service_calls_total', {
      name: 'slow_write',
    });
    expect(served).toBe(0);
  });

  it("refuses the same way a request served by the session's SDK server (completion of a prompt it may not use)", async () => {
    const headers = bearer(await token('alice', 'testbed:read'));
    const id = await session(headers);
    const completion = JSON.stringify({
      jsonrpc: '2.0',
      id: 3,
      method: 'completion/complete',
      params: { ref: { type: 'ref/prompt', name: 'testbed_greet' }, argument: { name: 'name', value: 'A' } },
    });
    for (let replica = 0; replica < 2; replica++) {
      const response = await postRaw(fabric.mcpUrl, completion, { ...headers, 'mcp-session-id': id });
      expect(response.status).toBe(403);
      expect(response.headers.get('www-authenticate')).toBe(
        `Bearer error="insufficient_scope", scope="testbed:prompts", resource_metadata="${METADATA}"`,
      );
    }
    const allowed = bearer(await token('alice', 'testbed:read testbed:prompts'));
    const other = await session(allowed);
    expect((await postRaw(fabric.mcpUrl, completion, { ...allowed, 'mcp-session-id': other })).status).toBe(200);
  });

  it('refuses a subscription to a resource the principal may not read', async () => {
    const subscribe = JSON.stringify({
      jsonrpc: '2.0',
      id: 4,
      method: 'resources/subscribe',
      params: { uri: 'testbed://counter' },
    });
    const refused = bearer(await token('alice', 'testbed:read'));
    const response = await postRaw(fabric.mcpUrl, subscribe, { ...refused, 'mcp-session-id': await session(refused) });
    expect(response.status).toBe(403);
    expect(response.headers.get('www-authenticate')).toContain('scope="testbed:counter"');
    const allowed = bearer(await token('alice', 'testbed:read testbed:counter'));
    const accepted = await postRaw(fabric.mcpUrl, subscribe, { ...allowed, 'mcp-session-id': await session(allowed) });
    expect(accepted.status).toBe(200);
  });

  it('hands the service the principal, never the token', async () => {
    const jwt = await token('alice', 'testbed:read');
    const client = await connect(jwt);
    try {
      const text = textOf(await client.callTool({ name: 'testbed_whoami', arguments: {} }));
      expect(JSON.parse(text)).toEqual({
        subject: 'alice',
        issuer: as.issuer,
        clientId: 'e2e-client',
        scopes: ['testbed:read'],
      });
      expect(text).not.toContain(jwt.split('.')[2]);
    } finally {
      await client.close();
    }
  });

  it("answers a session's requests with another principal's credentials as an unknown session (404)", async () => {
    const alice = bearer(await token('alice', 'testbed:read'));
    const mallory = bearer(await token('mallory', 'testbed:read'));
    const id = await session(alice);
    for (let replica = 0; replica < 2; replica++) {
      expect(
        (await postRaw(fabric.mcpUrl, toolCall('testbed_whoami'), { ...mallory, 'mcp-session-id': id })).status,
      ).toBe(404);
      expect(
        (await postRaw(fabric.mcpUrl, toolCall('testbed_whoami'), { ...alice, 'mcp-session-id': id })).status,
      ).toBe(200);
    }
    const apiKeySession = await postRaw(fabric.mcpUrl, toolCall('testbed_whoami'), {
      'x-api-key': API_KEY,
      'mcp-session-id': id,
    });
    expect(apiKeySession.status).toBe(404);
  });

  it('accepts an API key, as X-API-Key or as a bearer, for its principal', async () => {
    const variants: Record<string, string>[] = [{ 'x-api-key': API_KEY }, { authorization: `Bearer ${API_KEY}` }];
    for (const headers of variants) {
      const id = await session(headers);
      const response = await postRaw(fabric.mcpUrl, toolCall('testbed_whoami'), { ...headers, 'mcp-session-id': id });
      expect(response.status).toBe(200);
      expect(JSON.parse(textOf((response.json as { result: unknown }).result))).toEqual({
        subject: 'svc:ci',
        clientId: 'ci',
        scopes: ['testbed:read'],
      });
    }
    const wrong = await postRaw(fabric.mcpUrl, INITIALIZE, { 'x-api-key': `${API_KEY}x` });
    expect(wrong.status).toBe(401);
  });
});
