import type { IncomingHttpHeaders, IncomingMessage } from 'node:http';
import { Readable } from 'node:stream';
import { RPC } from '../operations/rpc.error';
import { checkAccept, checkJsonContentType, checkOriginAndHost, readBody } from './http-checks';
import { HttpRejection } from './http-rejection';

/** The rejection `check` throws, or undefined when it passes. */
function rejectionOf(check: () => unknown): HttpRejection | undefined {
  try {
    check();
  } catch (error) {
    if (error instanceof HttpRejection) return error;
    throw error;
  }
  return undefined;
}

async function asyncRejectionOf(check: () => Promise<unknown>): Promise<HttpRejection | undefined> {
  try {
    await check();
  } catch (error) {
    if (error instanceof HttpRejection) return error;
    throw error;
  }
  return undefined;
}

describe('checkOriginAndHost', () => {
  const originCheck = (origin: string | undefined, allowed: string[]) =>
    rejectionOf(() => checkOriginAndHost(origin ? { origin } : {}, allowed, []));

  it('lets a request without Origin through (not a browser)', () => {
    expect(originCheck(undefined, [])).toBeUndefined();
  });

  it.each(['http://localhost:6274', 'http://127.0.0.1:3000', 'http://[::1]:8080', 'https://localhost'])(
    'by default allows the local origin %s',
    (origin) => {
      expect(originCheck(origin, [])).toBeUndefined();
    },
  );

  it.each(['https://evil.example', 'http://localhost.evil.example', 'null', 'not a url'])(
    'by default rejects the origin %p with 403',
    (origin) => {
      expect(originCheck(origin, [])).toMatchObject({
        status: 403,
        rpcCode: RPC.ServerError,
        message: `Forbidden: origin ${origin} is not allowed`,
      });
    },
  );

  it('with an allow-list accepts exactly the listed origins, and no longer localhost', () => {
    const allowed = ['https://app.example'];
    expect(originCheck('https://app.example', allowed)).toBeUndefined();
    expect(originCheck('https://app.example:8443', allowed)?.status).toBe(403);
    expect(originCheck('http://localhost:3000', allowed)?.status).toBe(403);
  });

  it('with "*" allows any origin', () => {
    expect(originCheck('https://anything.example', ['*'])).toBeUndefined();
  });

  it('with no host list accepts any Host', () => {
    expect(rejectionOf(() => checkOriginAndHost({ host: 'attacker.example' }, [], []))).toBeUndefined();
  });

  it('with a host list accepts a listed host with or without its port', () => {
    expect(rejectionOf(() => checkOriginAndHost({ host: 'gw.internal:3000' }, [], ['gw.internal']))).toBeUndefined();
    expect(
      rejectionOf(() => checkOriginAndHost({ host: 'gw.internal:3000' }, [], ['gw.internal:3000'])),
    ).toBeUndefined();
  });

  it('with a host list rejects any other host, and a request without Host, with 403', () => {
    expect(rejectionOf(() => checkOriginAndHost({ host: 'rebound.example:3000' }, [], ['gw.internal']))).toMatchObject({
      status: 403,
      message: 'Forbidden: host rebound.example:3000 is not allowed',
    });
    expect(rejectionOf(() => checkOriginAndHost({}, [], ['gw.internal']))?.status).toBe(403);
  });
});

describe('checkAccept', () => {
  const both = ['application/json', 'text/event-stream'];
  const accept = (value: string | undefined, required = both) =>
    rejectionOf(() => checkAccept(value === undefined ? {} : { accept: value }, required));

  it('passes when every required type is listed, in any case and with parameters', () => {
    expect(accept('application/json, text/event-stream')).toBeUndefined();
    expect(accept('Text/Event-Stream;q=0.9, APPLICATION/JSON;q=1')).toBeUndefined();
  });

  it('accepts */* and type/* wildcards', () => {
    expect(accept('*/*')).toBeUndefined();
    expect(accept('application/*, text/*')).toBeUndefined();
    expect(accept('application/json, text/*')).toBeUndefined();
  });

  it('rejects with 406 when a required type is missing', () => {
    expect(accept('application/json')).toMatchObject({
      status: 406,
      rpcCode: RPC.ServerError,
      message: 'Not Acceptable: the client must accept application/json and text/event-stream',
    });
    expect(accept('image/*, application/json')?.status).toBe(406);
  });

  it('rejects with 406 when there is no Accept header', () => {
    expect(accept(undefined, ['text/event-stream'])?.status).toBe(406);
  });
});

describe('checkJsonContentType', () => {
  it('accepts application/json with parameters and rejects anything else with 415', () => {
    expect(
      rejectionOf(() => checkJsonContentType({ 'content-type': 'application/json; charset=utf-8' })),
    ).toBeUndefined();
    expect(rejectionOf(() => checkJsonContentType({ 'content-type': 'text/plain' }))?.status).toBe(415);
    expect(rejectionOf(() => checkJsonContentType({}))?.status).toBe(415);
  });
});

describe('readBody', () => {
  /** A request whose body arrives as `chunks`, counting how many chunks were pulled. */
  function request(chunks: Buffer[], headers: IncomingHttpHeaders = {}) {
    const pulled = { count: 0 };
    const stream = Readable.from(
      (function* () {
        for (const chunk of chunks) {
          pulled.count++;
          yield chunk;
        }
      })(),
    );
    return { req: Object.assign(stream, { headers }) as unknown as IncomingMessage, pulled };
  }

  it('returns the whole body when it is within the limit', async () => {
    const { req } = request([Buffer.from('{"a":'), Buffer.from('1}')]);
    expect((await readBody(req, 1024)).toString()).toBe('{"a":1}');
  });

  it('accepts a body of exactly the limit', async () => {
    const { req } = request([Buffer.alloc(1024, 'x')], { 'content-length': '1024' });
    expect(await readBody(req, 1024)).toHaveLength(1024);
  });

  it('rejects a declared Content-Length over the limit with 413 before reading the body', async () => {
    const { req, pulled } = request([Buffer.alloc(10, 'x')], { 'content-length': '2048' });
    const rejection = await asyncRejectionOf(() => readBody(req, 1024));
    expect(rejection).toMatchObject({
      status: 413,
      rpcCode: RPC.InvalidRequest,
      message: 'Payload Too Large: the body exceeds 1024 bytes',
      headers: { Connection: 'close' },
    });
    expect(pulled.count).toBe(0);
  });

  it('rejects a streamed body that grows past the limit with 413, then drains the rest', async () => {
    const chunks = Array.from({ length: 10 }, () => Buffer.alloc(400, 'x'));
    const { req, pulled } = request(chunks);
    const rejection = await asyncRejectionOf(() => readBody(req, 1000));
    expect(rejection).toMatchObject({ status: 413, headers: { Connection: 'close' } });
    // The rest is read and dropped (the connection can still carry the 413), not kept.
    if (!req.readableEnded) await new Promise((resolve) => req.once('end', resolve));
    expect(pulled.count).toBe(chunks.length);
  });

  it('rejects a body that does not arrive in time with 408 and asks to close the connection', async () => {
    const stream = new Readable({ read() {} });
    stream.push(Buffer.from('{'));
    const req = Object.assign(stream, { headers: {} }) as unknown as IncomingMessage;
    const rejection = await asyncRejectionOf(() => readBody(req, 1024, 50));
    expect(rejection).toMatchObject({ status: 408, headers: { Connection: 'close' } });
  });
});
