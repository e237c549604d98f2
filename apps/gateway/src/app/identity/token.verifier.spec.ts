import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { SignJWT, exportJWK, generateKeyPair, type CryptoKey, type JWK } from 'jose';
import { InvalidTokenError, TokenVerifier, discoverJwksUri } from './token.verifier';

const AUDIENCE = 'https://gw.example/mcp';

interface Signer {
  kid: string;
  privateKey: CryptoKey;
  jwk: JWK;
}

async function signer(kid: string, alg = 'RS256'): Promise<Signer> {
  const { privateKey, publicKey } = await generateKeyPair(alg, { extractable: true });
  return { kid, privateKey, jwk: { ...(await exportJWK(publicKey)), kid, alg, use: 'sig' } };
}

/** An authorization server on 127.0.0.1: RFC 8414 metadata and the JWKS it names, counting JWKS fetches. */
class AuthorizationServer {
  keys: Signer[] = [];
  jwksFetches = 0;
  private constructor(private readonly server: Server) {}

  static async start(): Promise<AuthorizationServer> {
    const server = createServer();
    const self = new AuthorizationServer(server);
    server.on('request', (req, res) => {
      if (req.url === '/.well-known/oauth-authorization-server') {
        res.setHeader('content-type', 'application/json');
        res.end(JSON.stringify({ issuer: self.issuer, jwks_uri: `${self.issuer}/jwks` }));
      } else if (req.url === '/jwks') {
        self.jwksFetches++;
        res.setHeader('content-type', 'application/json');
        res.end(JSON.stringify({ keys: self.keys.map((key) => key.jwk) }));
      } else res.writeHead(404).end();
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    return self;
  }

  get issuer(): string {
    return `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  close(): Promise<void> {
    this.server.closeAllConnections();
    return new Promise((resolve) => this.server.close(() => resolve()));
  }
}

describe('TokenVerifier', () => {
  let as: AuthorizationServer;
  let current: Signer;
  let verifier: TokenVerifier;

  beforeAll(async () => {
    as = await AuthorizationServer.start();
  });
  afterAll(() => as.close());

  beforeEach(async () => {
    current = await signer('k1');
    as.keys = [current];
    as.jwksFetches = 0;
    verifier = new TokenVerifier({ issuer: as.issuer, audience: AUDIENCE });
  });

  const token = (
    claims: Record<string, unknown> = {},
    {
      key = current,
      issuer = as.issuer,
      audience = AUDIENCE as string | string[],
      expires = '5m' as string | number,
    } = {},
  ) =>
    new SignJWT({ scope: 'files:read files:write', client_id: 'cli', ...claims })
      .setProtectedHeader({ alg: key.jwk.alg as string, kid: key.kid })
      .setSubject('alice')
      .setIssuer(issuer)
      .setAudience(audience)
      .setIssuedAt()
      .setExpirationTime(expires)
      .sign(key.privateKey);

  const problemOf = async (jwt: string) => {
    const error = await verifier.verify(jwt).catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(InvalidTokenError);
    return (error as InvalidTokenError).problem;
  };

  it('gives the principal of a valid token: subject, issuer, client and scopes (never the token)', async () => {
    expect(await verifier.verify(await token())).toEqual({
      subject: 'alice',
      issuer: as.issuer,
      clientId: 'cli',
      scopes: ['files:read', 'files:write'],
    });
  });

  it('reads scopes from scp when there is no scope claim, and accepts an audience list naming this endpoint', async () => {
    const principal = await verifier.verify(
      await token({ scope: undefined, scp: ['a', 'b'] }, { audience: ['https://other.example', AUDIENCE] }),
    );
    expect(principal.scopes).toEqual(['a', 'b']);
  });

  it('discovers the JWKS from the issuer metadata and fetches it once for many tokens', async () => {
    expect(await discoverJwksUri(as.issuer)).toBe(`${as.issuer}/jwks`);
    for (let i = 0; i < 5; i++) await verifier.verify(await token());
    expect(as.jwksFetches).toBe(1);
  });

  it('follows a key rotation: a token signed by a new key fetches the key set again', async () => {
    verifier = new TokenVerifier({ issuer: as.issuer, audience: AUDIENCE, jwksCooldownMs: 0 });
    await verifier.verify(await token());
    const next = await signer('k2', 'ES256');
    as.keys = [current, next];
    expect((await verifier.verify(await token({}, { key: next }))).subject).toBe('alice');
    expect(as.jwksFetches).toBe(2);
  });

  it('refuses an expired token, beyond the clock skew', async () => {
    expect(await problemOf(await token({}, { expires: Math.floor(Date.now() / 1000) - 120 }))).toBe('expired');
  });

  it('tolerates a few seconds of clock skew', async () => {
    expect((await verifier.verify(await token({}, { expires: Math.floor(Date.now() / 1000) - 5 }))).subject).toBe(
      'alice',
    );
  });

  it('refuses a token for another audience, or from another issuer', async () => {
    expect(await problemOf(await token({}, { audience: 'https://other.example/mcp' }))).toBe('wrong_audience');
    expect(await problemOf(await token({}, { issuer: 'https://evil.example' }))).toBe('wrong_issuer');
  });

  it('does not fetch the key set again for every token naming an unknown key (cooldown)', async () => {
    await verifier.verify(await token());
    const unknown = await signer('k7');
    for (let i = 0; i < 3; i++) await verifier.verify(await token({}, { key: unknown })).catch(() => undefined);
    expect(as.jwksFetches).toBe(1);
  });

  it('refuses a token signed by a key the issuer does not publish', async () => {
    const foreign = await signer('k1');
    expect(await problemOf(await token({}, { key: foreign }))).toBe('bad_signature');
    const unknown = await signer('k9');
    expect(await problemOf(await token({}, { key: unknown }))).toBe('unknown_key');
  });

  it('refuses a token signed with a shared secret (HS256), and garbage', async () => {
    const hs = await new SignJWT({})
      .setProtectedHeader({ alg: 'HS256', kid: 'k1' })
      .setSubject('alice')
      .setIssuer(as.issuer)
      .setAudience(AUDIENCE)
      .setExpirationTime('5m')
      .sign(new TextEncoder().encode('a shared secret of thirty-two bytes!'));
    expect(await problemOf(hs)).toBe('algorithm');
    expect(await problemOf('a.b.c')).toBe('malformed');
  });

  it('says the keys are unavailable when the issuer cannot be reached, and tries again on the next token', async () => {
    const unreachable = new TokenVerifier({ issuer: 'http://127.0.0.1:1', audience: AUDIENCE });
    expect(await unreachable.verify(await token()).catch((error: InvalidTokenError) => error.problem)).toBe(
      'keys_unavailable',
    );
    const direct = new TokenVerifier({ issuer: as.issuer, audience: AUDIENCE, jwksUrl: `${as.issuer}/jwks` });
    expect((await direct.verify(await token())).subject).toBe('alice');
  });
});
