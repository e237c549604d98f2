import type { IncomingHttpHeaders } from 'node:http';

/** What a request presents to prove who it is, before anything is checked. */
export type Credential = { kind: 'bearer'; value: string } | { kind: 'api-key'; value: string };

/** Why a request's credentials could not even be read. */
export type CredentialProblem = 'malformed' | 'query';

/** Query parameters a token could hide in: refused (URLs end up in logs, histories and Referer headers). */
const QUERY_CREDENTIALS = ['access_token', 'api_key', 'apikey', 'token'];

/**
 * The credential of a request: `Authorization: Bearer <token>` or `X-API-Key: <key>`; none, or the problem
 * that makes the request unreadable (a token in the query string, a malformed or doubled header).
 */
export function extractCredential(
  headers: IncomingHttpHeaders,
  url: string | undefined,
): Credential | CredentialProblem | undefined {
  if (url && hasQueryCredential(url)) return 'query';
  const authorization = headers.authorization;
  const apiKey = headers['x-api-key'];
  if (authorization !== undefined && apiKey !== undefined) return 'malformed';
  if (apiKey !== undefined) {
    const value = (Array.isArray(apiKey) ? '' : apiKey).trim();
    return value ? { kind: 'api-key', value } : 'malformed';
  }
  if (authorization === undefined) return undefined;
  const match = /^Bearer +([A-Za-z0-9\-._~+/]+=*) *$/i.exec(authorization);
  return match ? { kind: 'bearer', value: match[1] } : 'malformed';
}

function hasQueryCredential(url: string): boolean {
  const query = url.indexOf('?');
  if (query === -1) return false;
  const params = new URLSearchParams(url.slice(query + 1));
  return QUERY_CREDENTIALS.some((name) => params.has(name));
}

/** Whether a bearer credential has the shape of a JWT (three base64url parts); anything else may be an API key. */
export function looksLikeJwt(value: string): boolean {
  return /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*$/.test(value);
}
