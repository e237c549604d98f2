import { Inject, Injectable, Logger, type OnApplicationShutdown } from '@nestjs/common';
import type { IncomingMessage } from 'node:http';
import type { Principal } from '@fabric/contracts';
import { MetricsRegistry } from '@fabric/platform-observability';
import { GATEWAY_ENV, authEnabled, type GatewayEnv } from '../gateway.config';
import { HttpRejection } from '../http/http-rejection';
import { RPC } from '../operations/rpc.error';
import { ApiKeys } from './api-keys';
import { extractCredential, looksLikeJwt } from './credentials';
import { challengeHeader, metadataUrlOf, resourceOf, type Challenge } from './protected-resource';
import { InvalidTokenError, TokenVerifier } from './token.verifier';

/** Outcomes counted in `fabric_gateway_auth_total` (with a reason; never a token or a key). */
export type AuthOutcome = 'accepted' | 'rejected' | 'forbidden' | 'unavailable';

/** The request a client may not send again unchanged: what a `WWW-Authenticate` challenge needs to know. */
type RequestLike = Pick<IncomingMessage, 'headers' | 'socket' | 'url'>;

/**
 * Who sends a request to `/mcp`: a verified bearer token (`AUTH_ISSUER`) or an API key (`API_KEYS_FILE`),
 * established once per HTTP request. Without either configured the gateway runs open and every request
 * is anonymous (undefined). Refusals are `HttpRejection`s carrying the spec's `WWW-Authenticate` challenge.
 */
@Injectable()
export class Authenticator implements OnApplicationShutdown {
  private readonly log = new Logger('Authenticator');
  private readonly verifier?: TokenVerifier;
  private readonly apiKeys?: ApiKeys;
  private readonly decisions;

  constructor(
    @Inject(GATEWAY_ENV) private readonly env: GatewayEnv,
    @Inject(MetricsRegistry) metrics: MetricsRegistry,
  ) {
    this.decisions = metrics.counter('fabric_gateway_auth_total', 'Authentication and authorization decisions', [
      'outcome',
      'reason',
    ]);
    if (env.AUTH_ISSUER && env.AUTH_AUDIENCE) {
      this.verifier = new TokenVerifier({
        issuer: env.AUTH_ISSUER,
        audience: env.AUTH_AUDIENCE,
        jwksUrl: env.AUTH_JWKS_URL,
      });
    }
    if (env.API_KEYS_FILE) {
      this.apiKeys = new ApiKeys(env.API_KEYS_FILE, (outcome) => {
        if ('error' in outcome) this.log.error(`${outcome.error.message}; keeping the keys loaded before`);
        else this.log.log(`API keys reloaded (${outcome.count})`);
      });
      this.apiKeys.watch();
    }
  }

  /** Whether callers must authenticate. */
  get enabled(): boolean {
    return authEnabled(this.env);
  }

  onApplicationShutdown(): void {
    this.apiKeys?.close();
  }

  /** Counts one decision. */
  count(outcome: AuthOutcome, reason: string): void {
    this.decisions.inc({ outcome, reason });
  }

  /** The principal of a request (undefined when the gateway runs open); a 401 (or 503) `HttpRejection` otherwise. */
  async authenticate(req: RequestLike): Promise<Principal | undefined> {
    if (!this.enabled) return undefined;
    const credential = extractCredential(req.headers, req.url);
    if (credential === undefined) throw this.unauthenticated(req, 'missing');
    if (credential === 'query') {
      throw this.unauthenticated(req, 'query', {
        error: 'invalid_request',
        description: 'credentials in the query string are not accepted; send an Authorization header',
      });
    }
    if (credential === 'malformed') {
      throw this.unauthenticated(req, 'malformed', { error: 'invalid_request', description: 'malformed credentials' });
    }
    if (credential.kind === 'bearer' && this.verifier && looksLikeJwt(credential.value)) {
      try {
        const principal = await this.verifier.verify(credential.value);
        this.count('accepted', 'token');
        return principal;
      } catch (error) {
        if (!(error instanceof InvalidTokenError)) throw error;
        if (error.problem === 'keys_unavailable') {
          this.count('unavailable', error.problem);
          this.log.warn({ err: error.cause }, 'cannot fetch the signing keys of AUTH_ISSUER');
          throw new HttpRejection(503, RPC.ServerError, 'Service Unavailable: cannot verify tokens now; try again', {
            'Retry-After': '5',
          });
        }
        throw this.unauthenticated(req, error.problem, { error: 'invalid_token', description: error.message });
      }
    }
    const principal = this.apiKeys?.authenticate(credential.value);
    if (principal) {
      this.count('accepted', 'api_key');
      return principal;
    }
    throw this.unauthenticated(req, credential.kind === 'api-key' ? 'unknown_api_key' : 'invalid_token', {
      error: 'invalid_token',
      description: 'the credential is not valid here',
    });
  }

  /** The 403 step-up challenge for a request (JSON-RPC `requestId`) that lacks `scopes`. */
  insufficientScope(req: RequestLike, scopes: string[], requestId: string | number | null = null): HttpRejection {
    this.count('forbidden', 'insufficient_scope');
    return new HttpRejection(
      403,
      RPC.ServerError,
      `Forbidden: this needs the scope(s) ${scopes.join(' ')}`,
      {
        'WWW-Authenticate': challengeHeader({
          resourceMetadata: this.metadataUrl(req),
          error: 'insufficient_scope',
          scope: scopes,
        }),
      },
      requestId,
    );
  }

  /** The URL of this resource's RFC 9728 metadata, as the request's client reaches it. */
  metadataUrl(req: Pick<IncomingMessage, 'headers' | 'socket'>): string {
    return metadataUrlOf(resourceOf(this.env.AUTH_AUDIENCE, req));
  }

  private unauthenticated(req: RequestLike, reason: string, challenge: Omit<Challenge, 'resourceMetadata'> = {}) {
    this.count('rejected', reason);
    return new HttpRejection(401, RPC.ServerError, 'Unauthorized: a valid access token is required', {
      'WWW-Authenticate': challengeHeader({ resourceMetadata: this.metadataUrl(req), ...challenge }),
    });
  }
}
