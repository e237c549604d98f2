import { createRemoteJWKSet, errors, jwtVerify, type JWTPayload, type JWTVerifyGetKey } from 'jose';
import type { Principal } from '@fabric/contracts';

/** Signature algorithms accepted: asymmetric only (a shared secret would let the resource server mint tokens). */
export const ALLOWED_ALGORITHMS = [
  'RS256',
  'RS384',
  'RS512',
  'PS256',
  'PS384',
  'PS512',
  'ES256',
  'ES384',
  'ES512',
  'EdDSA',
];

/** Clock difference tolerated between the issuer and this gateway for `exp`, `nbf` and `iat`, in seconds. */
const CLOCK_SKEW_S = 30;

/** A key set is fetched again at most this often when a token names an unknown key (rotation). */
const JWKS_COOLDOWN_MS = 30_000;
/** Keys are refreshed at least this often. */
const JWKS_MAX_AGE_MS = 10 * 60_000;
const FETCH_TIMEOUT_MS = 5_000;

/** Why a token was refused (a metric label, and never the token). */
export type TokenProblem =
  | 'expired'
  | 'not_yet_valid'
  | 'wrong_issuer'
  | 'wrong_audience'
  | 'bad_signature'
  | 'unknown_key'
  | 'algorithm'
  | 'malformed'
  | 'claims'
  | 'keys_unavailable';

/** A token that does not prove who sent it. */
export class InvalidTokenError extends Error {
  constructor(
    readonly problem: TokenProblem,
    options?: { cause?: unknown },
  ) {
    super(`invalid access token (${problem})`, options);
    this.name = 'InvalidTokenError';
  }
}

export interface TokenVerifierOptions {
  issuer: string;
  audience: string;
  /** Where the signing keys are; discovered from the issuer's metadata when absent. */
  jwksUrl?: string;
  /** Least time between two fetches of the key set (an unknown `kid` must not make every token a fetch). */
  jwksCooldownMs?: number;
}

/**
 * Verifies JWT access tokens (OAuth 2.1 resource server): the signature against the issuer's JWKS (fetched
 * once, refreshed on an unknown `kid` at most every 30 s, so a key rotation needs no restart), `iss`, `aud`
 * naming this endpoint, `exp`/`nbf` with a small clock skew, an asymmetric algorithm.
 */
export class TokenVerifier {
  private keys?: Promise<JWTVerifyGetKey>;

  constructor(private readonly options: TokenVerifierOptions) {}

  /** The principal a valid token names; `InvalidTokenError` otherwise. */
  async verify(token: string): Promise<Principal> {
    const keys = await this.keySet();
    let payload: JWTPayload;
    try {
      ({ payload } = await jwtVerify(token, keys, {
        issuer: this.options.issuer,
        audience: this.options.audience,
        algorithms: ALLOWED_ALGORITHMS,
        clockTolerance: CLOCK_SKEW_S,
        requiredClaims: ['exp', 'sub'],
      }));
    } catch (error) {
      throw new InvalidTokenError(problemOf(error), { cause: error });
    }
    return principalOf(payload);
  }

  /** The remote key set, from `AUTH_JWKS_URL` or the issuer's metadata (looked up again after a failure). */
  private keySet(): Promise<JWTVerifyGetKey> {
    this.keys ??= (async () => {
      const url = this.options.jwksUrl ?? (await discoverJwksUri(this.options.issuer));
      return createRemoteJWKSet(new URL(url), {
        cooldownDuration: this.options.jwksCooldownMs ?? JWKS_COOLDOWN_MS,
        cacheMaxAge: JWKS_MAX_AGE_MS,
        timeoutDuration: FETCH_TIMEOUT_MS,
      });
    })();
    return this.keys.catch((error: unknown) => {
      this.keys = undefined;
      throw new InvalidTokenError('keys_unavailable', { cause: error });
    });
  }
}

/** The `jwks_uri` of an issuer: RFC 8414 metadata first, then OpenID Connect discovery. */
export async function discoverJwksUri(issuer: string): Promise<string> {
  const url = new URL(issuer);
  const path = url.pathname === '/' ? '' : url.pathname.replace(/\/$/, '');
  const candidates = [
    `${url.origin}/.well-known/oauth-authorization-server${path}`,
    `${url.origin}/.well-known/openid-configuration${path}`,
    `${url.origin}${path}/.well-known/openid-configuration`,
  ];
  const failures: string[] = [];
  for (const candidate of candidates) {
    try {
      const response = await fetch(candidate, { signal: AbortSignal.timeout(FETCH_TIMEOUT_MS) });
      if (!response.ok) {
        failures.push(`${candidate}: HTTP ${response.status}`);
        continue;
      }
      const metadata = (await response.json()) as { issuer?: unknown; jwks_uri?: unknown };
      // Metadata of another issuer must not supply our keys (RFC 8414 §3.3).
      if (metadata.issuer !== issuer) {
        failures.push(`${candidate}: names issuer ${String(metadata.issuer)}`);
        continue;
      }
      if (typeof metadata.jwks_uri === 'string') return metadata.jwks_uri;
      failures.push(`${candidate}: no jwks_uri`);
    } catch (error) {
      failures.push(`${candidate}: ${error instanceof Error ? error.message : String(error)}`);
    }
  }
  throw new Error(`no authorization server metadata with a jwks_uri for ${issuer} (${failures.join('; ')})`);
}

/** The principal of a verified payload: `sub`, `iss`, the client (`client_id` or `azp`) and the scopes. */
export function principalOf(payload: JWTPayload): Principal {
  const clientId = payload['client_id'] ?? payload['azp'];
  return {
    subject: payload.sub as string,
    ...(payload.iss ? { issuer: payload.iss } : {}),
    ...(typeof clientId === 'string' ? { clientId } : {}),
    scopes: scopesOf(payload),
  };
}

/** Scopes from `scope` (space-separated, RFC 9068) or `scp` (a list or a string, as some issuers write it). */
function scopesOf(payload: JWTPayload): string[] {
  const claim = payload['scope'] ?? payload['scp'];
  const scopes = typeof claim === 'string' ? claim.split(' ') : Array.isArray(claim) ? claim : [];
  return [...new Set(scopes.filter((scope): scope is string => typeof scope === 'string' && scope.length > 0))];
}

function problemOf(error: unknown): TokenProblem {
  // Not jose's verdict on the token: the key set could not be fetched (network, HTTP status).
  if (!(error instanceof errors.JOSEError)) return 'keys_unavailable';
  if (error instanceof errors.JWTExpired) return 'expired';
  if (error instanceof errors.JWTClaimValidationFailed) {
    if (error.claim === 'iss') return 'wrong_issuer';
    if (error.claim === 'aud') return 'wrong_audience';
    if (error.claim === 'nbf' && error.reason === 'check_failed') return 'not_yet_valid';
    return 'claims';
  }
  if (error instanceof errors.JWSSignatureVerificationFailed) return 'bad_signature';
  if (error instanceof errors.JWKSNoMatchingKey || error instanceof errors.JWKSMultipleMatchingKeys)
    return 'unknown_key';
  if (error instanceof errors.JOSEAlgNotAllowed || error instanceof errors.JOSENotSupported) return 'algorithm';
  if (error instanceof errors.JWKSTimeout || error instanceof errors.JWKSInvalid) return 'keys_unavailable';
  return 'malformed';
}
