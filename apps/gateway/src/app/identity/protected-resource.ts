import type { IncomingMessage } from 'node:http';
import { TLSSocket } from 'node:tls';

/** Where RFC 9728 metadata lives, below the origin of the resource. */
export const METADATA_PATH = '/.well-known/oauth-protected-resource';

/** RFC 9728 protected resource metadata, as served. */
export interface ProtectedResourceMetadata {
  resource: string;
  authorization_servers: string[];
  scopes_supported: string[];
  bearer_methods_supported: string[];
}

/**
 * The resource a request addresses: `AUTH_AUDIENCE` when set (the canonical URI tokens are issued for),
 * else the endpoint on the Host the request used.
 */
export function resourceOf(audience: string | undefined, req: Pick<IncomingMessage, 'headers' | 'socket'>): string {
  if (audience) return audience;
  const scheme = req.socket instanceof TLSSocket ? 'https' : 'http';
  return `${scheme}://${req.headers.host ?? '127.0.0.1'}/mcp`;
}

/** The metadata URL of a resource (RFC 9728 §3.1: the well-known path, then the resource's own path). */
export function metadataUrlOf(resource: string): string {
  const url = new URL(resource);
  const path = url.pathname === '/' ? '' : url.pathname.replace(/\/$/, '');
  return `${url.origin}${METADATA_PATH}${path}`;
}

export function protectedResourceMetadata(
  resource: string,
  issuer: string | undefined,
  scopes: Iterable<string>,
): ProtectedResourceMetadata {
  return {
    resource,
    authorization_servers: issuer ? [issuer] : [],
    scopes_supported: [...new Set(scopes)].sort(),
    bearer_methods_supported: ['header'],
  };
}

/** What a `WWW-Authenticate: Bearer` challenge says (RFC 6750 §3, MCP authorization). */
export interface Challenge {
  resourceMetadata: string;
  error?: 'invalid_token' | 'invalid_request' | 'insufficient_scope';
  description?: string;
  /** The scopes the request needs (step-up authorization). */
  scope?: string[];
}

/** The `WWW-Authenticate` value of a challenge. */
export function challengeHeader({ resourceMetadata, error, description, scope }: Challenge): string {
  const params: string[] = [];
  if (error) params.push(`error="${error}"`);
  if (description) params.push(`error_description="${quoted(description)}"`);
  if (scope && scope.length > 0) params.push(`scope="${quoted(scope.join(' '))}"`);
  params.push(`resource_metadata="${quoted(resourceMetadata)}"`);
  return `Bearer ${params.join(', ')}`;
}

/** A quoted-string's content: no quote or backslash can end it early (scopes and URLs contain neither anyway). */
function quoted(value: string): string {
  return value.replace(/[\\"]/g, '\\$&');
}
