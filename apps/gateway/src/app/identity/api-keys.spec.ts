import { createHash, randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { eventually } from '@fabric/platform-nats/testing';
import { ApiKeys, ApiKeysFileError } from './api-keys';

const sha256 = (key: string) => createHash('sha256').update(key).digest('hex');

describe('ApiKeys', () => {
  let dir: string;
  let file: string;
  let keys: ApiKeys | undefined;
  const write = (entries: unknown) => writeFileSync(file, JSON.stringify(entries));

  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'api-keys-'));
    file = join(dir, 'keys.json');
  });
  afterEach(() => {
    keys?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('knows a key by its SHA-256 and names its principal, id and scopes', () => {
    const key = randomBytes(24).toString('base64url');
    write([{ id: 'ci', sha256: sha256(key).toUpperCase(), principal: 'svc:ci', scopes: ['files:read'] }]);
    keys = new ApiKeys(file);
    expect(keys.authenticate(key)).toEqual({ subject: 'svc:ci', clientId: 'ci', scopes: ['files:read'] });
    expect(keys.authenticate(`${key}x`)).toBeUndefined();
    expect(keys.authenticate('')).toBeUndefined();
  });

  it('refuses to start from a file that is not a valid key list', () => {
    write([{ id: 'ci', sha256: 'not hex', principal: 'svc:ci' }]);
    expect(() => new ApiKeys(file)).toThrow(ApiKeysFileError);
    writeFileSync(file, '{');
    expect(() => new ApiKeys(file)).toThrow(/cannot be read as JSON/);
  });

  it('re-reads the file when it changes, and keeps the last good keys through a broken edit', async () => {
    write([{ id: 'old', sha256: sha256('old-key'), principal: 'svc:old' }]);
    const reloads: unknown[] = [];
    keys = new ApiKeys(file, (outcome) => reloads.push(outcome), 50);
    keys.watch();
    write([{ id: 'new', sha256: sha256('new-key'), principal: 'svc:new', scopes: ['a'] }]);
    await eventually(() => keys!.authenticate('new-key') !== undefined, 5_000, 'the new key to be loaded');
    expect(keys.authenticate('old-key')).toBeUndefined();
    writeFileSync(file, '[{"id":');
    await eventually(() => reloads.some((outcome) => 'error' in (outcome as object)), 5_000, 'the broken edit');
    expect(keys.authenticate('new-key')?.subject).toBe('svc:new');
  });
});
