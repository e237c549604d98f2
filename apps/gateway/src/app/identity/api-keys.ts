import { createHash, timingSafeEqual } from 'node:crypto';
import { readFileSync, statSync } from 'node:fs';
import { stat } from 'node:fs/promises';
import { z } from 'zod';
import { ScopesSchema, type Principal } from '@fabric/contracts';

/** One entry of `API_KEYS_FILE`: the key itself is never stored, only its SHA-256. */
export const ApiKeyEntrySchema = z.strictObject({
  /** Names the key (logs, metrics, `clientId` of the principal); not secret. */
  id: z.string().min(1),
  sha256: z
    .string()
    .regex(/^[0-9a-fA-F]{64}$/, 'must be the hex SHA-256 of the key')
    .transform((hex) => hex.toLowerCase()),
  principal: z.string().min(1),
  scopes: ScopesSchema.default([]),
});
export const ApiKeysFileSchema = z.array(ApiKeyEntrySchema);
export type ApiKeyEntry = z.infer<typeof ApiKeyEntrySchema>;

/** Raised when `API_KEYS_FILE` cannot be read or is invalid. */
export class ApiKeysFileError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'ApiKeysFileError';
  }
}

interface LoadedKey {
  digest: Buffer;
  principal: Principal;
}

/** How often the file's modification is polled (polling works on every file system, mounted secrets included). */
const POLL_MS = 1_000;

/**
 * The API keys of `API_KEYS_FILE`, re-read when the file changes (a broken edit keeps the keys loaded before
 * it). A presented key is hashed and compared with every entry's digest in constant time.
 */
export class ApiKeys {
  private keys: LoadedKey[] = [];
  /** Modification time, size and inode of the file as last read: any change of them is a new version. */
  private version = '';
  private poller?: NodeJS.Timeout;
  private polling = false;

  constructor(
    private readonly path: string,
    private readonly onReload: (outcome: { count: number } | { error: ApiKeysFileError }) => void = () => undefined,
    private readonly pollMs = POLL_MS,
  ) {
    // At start-up a broken file is an error: the gateway must not start without the keys it was given.
    this.keys = this.read();
  }

  /** Starts following changes of the file. */
  watch(): void {
    if (this.poller) return;
    this.poller = setInterval(() => void this.poll(), this.pollMs);
    this.poller.unref();
  }

  close(): void {
    clearInterval(this.poller);
    this.poller = undefined;
  }

  get size(): number {
    return this.keys.length;
  }

  /** The principal of a key, or undefined when no entry has its digest. */
  authenticate(key: string): Principal | undefined {
    const digest = createHash('sha256').update(key, 'utf8').digest();
    let found: Principal | undefined;
    // Every entry is compared, whatever matched: the time taken says nothing about which key or how close.
    for (const entry of this.keys) {
      if (timingSafeEqual(entry.digest, digest) && !found) found = entry.principal;
    }
    return found;
  }

  private async poll(): Promise<void> {
    if (this.polling) return;
    this.polling = true;
    try {
      const version = versionOf(await stat(this.path, { bigint: true }).catch(() => undefined));
      if (version === this.version) return;
      // A broken or missing file is reported once per version, not on every poll.
      this.version = version;
      try {
        this.keys = this.read();
        this.onReload({ count: this.keys.length });
      } catch (error) {
        this.onReload({ error: error as ApiKeysFileError });
      }
    } finally {
      this.polling = false;
    }
  }

  private read(): LoadedKey[] {
    let json: unknown;
    try {
      // The version first: a write that lands while the file is read is seen by the next poll.
      this.version = versionOf(statSync(this.path, { bigint: true }));
      json = JSON.parse(readFileSync(this.path, 'utf8'));
    } catch (error) {
      throw new ApiKeysFileError(`API_KEYS_FILE ${this.path} cannot be read as JSON`, { cause: error });
    }
    const parsed = ApiKeysFileSchema.safeParse(json);
    if (!parsed.success) {
      const issues = parsed.error.issues.map((issue) => `${issue.path.join('.') || '(root)'}: ${issue.message}`);
      throw new ApiKeysFileError(`API_KEYS_FILE ${this.path} is invalid:\n  ${issues.join('\n  ')}`);
    }
    return parsed.data.map((entry) => ({
      digest: Buffer.from(entry.sha256, 'hex'),
      principal: { subject: entry.principal, clientId: entry.id, scopes: entry.scopes },
    }));
  }
}

function versionOf(stats: { mtimeNs: bigint; size: bigint; ino: bigint } | undefined): string {
  return stats ? `${stats.mtimeNs}:${stats.size}:${stats.ino}` : 'missing';
}
