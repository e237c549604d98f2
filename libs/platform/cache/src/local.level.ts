import { LRUCache } from 'lru-cache';
import type { CacheMetrics } from './cache.metrics';

/** The pseudo-tag of a key: invalidating a key bumps it, so it guards stores like a tag does. */
export function keyTag(key: string): string {
  return `#key:${key}`;
}

/** One value of the local level. */
export interface LocalEntry {
  value: unknown;
  /** Epoch milliseconds (a copy taken from Redis keeps the Redis entry's expiry). */
  expiresAt: number;
  /** The tags and the key's pseudo-tag, for dropping it by tag. */
  guards: readonly string[];
}

/** Generations a process keeps per space before it forgets the oldest (they then count as just bumped). */
const MAX_GENERATIONS_PER_SPACE = 10_000;

/**
 * When each tag of a space was last invalidated, as a sequence number of this process. A load records the
 * sequence when it starts and stores only if none of its tags moved past it. Forgotten tags (beyond the
 * bound) and cleared spaces raise the floor: every tag counts as invalidated at the floor, which is safe.
 */
class SpaceGenerations {
  floor = 0;
  private readonly last = new Map<string, number>();

  bump(tags: readonly string[], seq: number): void {
    for (const tag of tags) {
      this.last.delete(tag);
      this.last.set(tag, seq);
    }
    while (this.last.size > MAX_GENERATIONS_PER_SPACE) {
      const [oldest, at] = this.last.entries().next().value as [string, number];
      this.last.delete(oldest);
      this.floor = Math.max(this.floor, at);
    }
  }

  clear(seq: number): void {
    this.last.clear();
    this.floor = seq;
  }

  unchangedSince(guards: readonly string[], snapshot: number): boolean {
    if (this.floor > snapshot) return false;
    return guards.every((tag) => (this.last.get(tag) ?? 0) <= snapshot);
  }
}

export interface LocalLevelOptions {
  maxEntries: number;
  maxBytes: number;
  now: () => number;
  metrics: CacheMetrics;
}

/** The in-process level: an LRU bounded by entries and bytes, per-entry TTL, tag index and staleness guards. */
export class LocalLevel {
  private readonly lru: LRUCache<string, LocalEntry>;
  /** `space \0 tag` → full keys of the entries carrying it. */
  private readonly byTag = new Map<string, Set<string>>();
  private readonly spaces = new Map<string, SpaceGenerations>();
  private seq = 0;
  /** Raised by `clearAll`: covers spaces this process has not seen yet. */
  private globalFloor = 0;
  private readonly maxEntryBytes: number;

  constructor(private readonly options: LocalLevelOptions) {
    this.maxEntryBytes = Math.floor(options.maxBytes / 10);
    this.lru = new LRUCache<string, LocalEntry>({
      max: options.maxEntries,
      maxSize: options.maxBytes,
      maxEntrySize: this.maxEntryBytes,
      perf: { now: options.now },
      // No cached clock: its 1 ms timer would also keep stale reads of a moved test clock.
      ttlResolution: 0,
      dispose: (entry, fullKey, reason) => {
        this.unindex(fullKey, entry);
        if (reason !== 'set') options.metrics.evicted(reason);
      },
    });
  }

  get(space: string, key: string): LocalEntry | undefined {
    const entry = this.lru.get(fullKey(space, key));
    this.report();
    return entry;
  }

  /** The sequence a load records when it starts, for `store` to tell whether an invalidation came since. */
  snapshot(): number {
    return this.seq;
  }

  /** True when none of `guards` of `space` was invalidated after `snapshot`. */
  unchangedSince(space: string, guards: readonly string[], snapshot: number): boolean {
    if (this.globalFloor > snapshot) return false;
    return this.spaces.get(space)?.unchangedSince(guards, snapshot) ?? true;
  }

  /**
   * Keeps a value unless an invalidation of its guards came after `snapshot`, it is too large (over a tenth
   * of the bytes) or already expired; true when kept.
   */
  store(space: string, key: string, entry: LocalEntry, size: number, snapshot: number): boolean {
    const ttl = entry.expiresAt - this.options.now();
    if (ttl <= 0 || size > this.maxEntryBytes || !this.unchangedSince(space, entry.guards, snapshot)) return false;
    const id = fullKey(space, key);
    this.lru.set(id, entry, { ttl, size });
    for (const tag of entry.guards) {
      const tagId = fullKey(space, tag);
      let keys = this.byTag.get(tagId);
      if (!keys) this.byTag.set(tagId, (keys = new Set()));
      keys.add(id);
    }
    this.report();
    return true;
  }

  /** Drops the entries of `space` carrying any of `tags` or named by `keys`, and bumps their generations. */
  drop(space: string, tags: readonly string[], keys: readonly string[]): void {
    const guards = [...tags, ...keys.map(keyTag)];
    this.generations(space).bump(guards, ++this.seq);
    for (const tag of guards) {
      for (const id of [...(this.byTag.get(fullKey(space, tag)) ?? [])]) this.lru.delete(id);
    }
    this.report();
  }

  /** Drops every entry of `space` (it may have missed an invalidation). */
  clearSpace(space: string): void {
    this.generations(space).clear(++this.seq);
    const prefix = fullKey(space, '');
    for (const id of [...this.lru.keys()]) if (id.startsWith(prefix)) this.lru.delete(id);
    this.report();
  }

  /** Drops every entry of every space. */
  clearAll(): void {
    this.globalFloor = ++this.seq;
    this.spaces.clear();
    this.lru.clear();
    this.report();
  }

  get entries(): number {
    return this.lru.size;
  }

  get bytes(): number {
    return this.lru.calculatedSize;
  }

  private generations(space: string): SpaceGenerations {
    let generations = this.spaces.get(space);
    if (!generations) {
      generations = new SpaceGenerations();
      generations.floor = this.globalFloor;
      this.spaces.set(space, generations);
    }
    return generations;
  }

  private unindex(id: string, entry: LocalEntry): void {
    const space = id.slice(0, id.indexOf('\0'));
    for (const tag of entry.guards) {
      const tagId = fullKey(space, tag);
      const keys = this.byTag.get(tagId);
      if (!keys) continue;
      keys.delete(id);
      if (keys.size === 0) this.byTag.delete(tagId);
    }
  }

  private report(): void {
    this.options.metrics.localSize(this.lru.size, this.lru.calculatedSize);
  }
}

function fullKey(space: string, key: string): string {
  return `${space}\0${key}`;
}
