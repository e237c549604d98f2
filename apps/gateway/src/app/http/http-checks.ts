import type { IncomingHttpHeaders, IncomingMessage } from 'node:http';
import { RPC } from '../operations/rpc.error';
import { HttpRejection } from './http-rejection';

const LOCAL_HOSTNAMES = new Set(['localhost', '127.0.0.1', '[::1]', '::1']);

/**
 * DNS-rebinding and cross-site protection: a browser `Origin` must be allowed (by default only local
 * origins), and when `allowedHosts` is set the `Host` header must be one of them.
 */
export function checkOriginAndHost(
  headers: IncomingHttpHeaders,
  allowedOrigins: string[],
  allowedHosts: string[],
): void {
  const origin = headers.origin;
  if (origin && !isAllowedOrigin(origin, allowedOrigins)) {
    throw new HttpRejection(403, RPC.ServerError, `Forbidden: origin ${origin} is not allowed`);
  }
  if (allowedHosts.length > 0) {
    const host = headers.host ?? '';
    const hostname = host.replace(/:\d+$/, '');
    if (!allowedHosts.includes(host) && !allowedHosts.includes(hostname)) {
      throw new HttpRejection(403, RPC.ServerError, `Forbidden: host ${host} is not allowed`);
    }
  }
}

function isAllowedOrigin(origin: string, allowed: string[]): boolean {
  if (allowed.includes('*') || allowed.includes(origin)) return true;
  if (allowed.length > 0) return false;
  try {
    return LOCAL_HOSTNAMES.has(new URL(origin).hostname);
  } catch {
    return false;
  }
}

/**
 * Verdicts on the `Accept` values seen, per list of required types (each call site passes one constant
 * list; clients send the same few values), bounded: a new value past the bound is not kept.
 */
const acceptVerdicts = new WeakMap<string[], Map<string, boolean>>();
const MAX_ACCEPT_VERDICTS = 256;

function accepts(accept: string, required: string[]): boolean {
  let verdicts = acceptVerdicts.get(required);
  if (!verdicts) acceptVerdicts.set(required, (verdicts = new Map()));
  const known = verdicts.get(accept);
  if (known !== undefined) return known;
  const accepted = accept
    .toLowerCase()
    .split(',')
    .map((part) => part.split(';')[0].trim());
  const covers = (type: string) =>
    accepted.includes(type) || accepted.includes('*/*') || accepted.includes(`${type.split('/')[0]}/*`);
  const verdict = required.every(covers);
  if (verdicts.size < MAX_ACCEPT_VERDICTS) verdicts.set(accept, verdict);
  return verdict;
}

/** `Accept` must name every one of `required` (or a wildcard covering it). */
export function checkAccept(headers: IncomingHttpHeaders, required: string[]): void {
  if (!accepts(headers.accept ?? '', required)) {
    throw new HttpRejection(406, RPC.ServerError, `Not Acceptable: the client must accept ${required.join(' and ')}`);
  }
}

export function checkJsonContentType(headers: IncomingHttpHeaders): void {
  const type = (headers['content-type'] ?? '').toLowerCase();
  if (!type.startsWith('application/json')) {
    throw new HttpRejection(415, RPC.ServerError, 'Unsupported Media Type: Content-Type must be application/json');
  }
}

/**
 * Reads a request body of at most `limit` bytes (413 above it, without buffering the excess) that arrives
 * within `timeoutMs` (408 otherwise, and the connection is closed: a slow client must not hold a socket).
 */
export function readBody(req: IncomingMessage, limit: number, timeoutMs = 10_000): Promise<Buffer> {
  const tooLarge = () =>
    new HttpRejection(413, RPC.InvalidRequest, `Payload Too Large: the body exceeds ${limit} bytes`, {
      Connection: 'close',
    });
  const declared = Number(req.headers['content-length']);
  if (Number.isFinite(declared) && declared > limit) {
    req.resume();
    return Promise.reject(tooLarge());
  }
  // Plain listeners rather than an async iterator: a body is nearly always one chunk.
  return new Promise((resolve, reject) => {
    let first: Buffer | undefined;
    let more: Buffer[] | undefined;
    let size = 0;
    const onData = (chunk: Buffer) => {
      size += chunk.length;
      if (size > limit) {
        done();
        req.resume();
        reject(tooLarge());
      } else if (!first) first = chunk;
      else (more ??= [first]).push(chunk);
    };
    const onEnd = () => {
      done();
      resolve(more ? Buffer.concat(more, size) : (first ?? Buffer.alloc(0)));
    };
    const onError = (error: Error) => {
      done();
      reject(error);
    };
    // Closed before the end: the client went away mid-body.
    const onClose = () => onError(new Error('the request was aborted before its body ended'));
    const timer = setTimeout(() => {
      done();
      reject(
        new HttpRejection(408, RPC.InvalidRequest, `Request Timeout: the body did not arrive within ${timeoutMs} ms`, {
          Connection: 'close',
        }),
      );
    }, timeoutMs);
    const done = () => {
      clearTimeout(timer);
      req.off('data', onData);
      req.off('end', onEnd);
      req.off('error', onError);
      req.off('close', onClose);
    };
    req.on('data', onData);
    req.on('end', onEnd);
    req.on('error', onError);
    req.on('close', onClose);
  });
}
