import { randomBytes } from 'node:crypto';
import { gatewayEnvSchema } from '../../gateway.config';
import { InvalidRequestStateError, RequestStateSeal, requestStateKey, type RequestState } from './request-state';

const NOW = 1_800_000_000_000;

function state(fields: Partial<RequestState> = {}): RequestState {
  return {
    call: 'call-1',
    pending: { user_name: { method: 'elicitation/create', replyTo: '_INBOX.abc.1' } },
    principal: 'https://issuer\nada',
    method: 'tools/call',
    name: 'greet',
    expires: NOW + 60_000,
    nonce: 'n1',
    ...fields,
  };
}

const BINDING = { principal: 'https://issuer\nada', method: 'tools/call', name: 'greet' };

function reasonOf(open: () => unknown): string | undefined {
  try {
    open();
  } catch (error) {
    if (error instanceof InvalidRequestStateError) return error.reason;
    throw error;
  }
  return undefined;
}

describe('RequestStateSeal', () => {
  const seal = new RequestStateSeal(randomBytes(32));

  it('opens what it sealed, for the same principal, method and name before the expiry', () => {
    const token = seal.seal(state());
    expect(seal.open(token, BINDING, NOW)).toEqual(state());
  });

  it('gives an opaque text: the reply subject and the principal are not readable in it', () => {
    const token = seal.seal(state());
    expect(token).toMatch(/^[A-Za-z0-9_-]+$/);
    expect(Buffer.from(token, 'base64url').toString('latin1')).not.toContain('_INBOX');
    expect(seal.seal(state())).not.toBe(token);
  });

  it('refuses a state with a changed byte, an appended suffix or that is not one at all', () => {
    const token = seal.seal(state());
    const bytes = Buffer.from(token, 'base64url');
    bytes[bytes.length - 1] ^= 1;
    expect(reasonOf(() => seal.open(bytes.toString('base64url'), BINDING, NOW))).toBe('tampered');
    expect(reasonOf(() => seal.open(`${token}-TAMPERED`, BINDING, NOW))).toBe('tampered');
    expect(reasonOf(() => seal.open(`${token}!`, BINDING, NOW))).toBe('malformed');
    expect(reasonOf(() => seal.open('', BINDING, NOW))).toBe('malformed');
    expect(reasonOf(() => seal.open('abc', BINDING, NOW))).toBe('malformed');
  });

  it('refuses a state whose handler subject is not a reply inbox, even with the right key', () => {
    const token = seal.seal(
      state({ pending: { k: { method: 'roots/list', replyTo: 'fabric.v1.svc.orders.tools.call' } } }),
    );
    expect(reasonOf(() => seal.open(token, BINDING, NOW))).toBe('malformed');
  });

  it('refuses a state sealed with another key', () => {
    const other = new RequestStateSeal(randomBytes(32));
    expect(reasonOf(() => seal.open(other.seal(state()), BINDING, NOW))).toBe('tampered');
  });

  it('refuses a state past its expiry', () => {
    const token = seal.seal(state({ expires: NOW }));
    expect(reasonOf(() => seal.open(token, BINDING, NOW))).toBe('expired');
  });

  it('refuses a state given to another principal, or for another method or name', () => {
    const token = seal.seal(state());
    expect(reasonOf(() => seal.open(token, { ...BINDING, principal: '' }, NOW))).toBe('mismatch');
    expect(reasonOf(() => seal.open(token, { ...BINDING, method: 'prompts/get' }, NOW))).toBe('mismatch');
    expect(reasonOf(() => seal.open(token, { ...BINDING, name: 'other' }, NOW))).toBe('mismatch');
  });
});

describe('requestStateKey', () => {
  it('reads 32 bytes given as hex or Base64, and nothing else', () => {
    const key = randomBytes(32);
    expect(requestStateKey(key.toString('hex'))).toEqual(key);
    expect(requestStateKey(key.toString('base64'))).toEqual(key);
    expect(requestStateKey(key.toString('base64url'))).toEqual(key);
    expect(requestStateKey('secret')).toBeUndefined();
    expect(requestStateKey(randomBytes(16).toString('hex'))).toBeUndefined();
  });
});

describe('REQUEST_STATE_KEY', () => {
  it('is refused at start-up unless it is a 32-byte key', () => {
    expect(gatewayEnvSchema.safeParse({ REQUEST_STATE_KEY: 'changeme' }).success).toBe(false);
    expect(gatewayEnvSchema.safeParse({ REQUEST_STATE_KEY: randomBytes(32).toString('base64') }).success).toBe(true);
    expect(gatewayEnvSchema.safeParse({}).success).toBe(true);
  });
});
