import { Logger } from '@nestjs/common';
import { createHash } from 'node:crypto';
import { setTimeout as delay } from 'node:timers/promises';
import { z } from 'zod';
import {
  CallReplySchema,
  ProbeReplySchema,
  type CallReply,
  type CallRequest,
  type FabricSubjects,
} from '@fabric/contracts';
import {
  NatsClient,
  NoRespondersError,
  RevisionConflictError,
  encodeJson,
  tryDecodeJson,
  type KvBucket,
} from '@fabric/platform-nats';
import type { MetricsRegistry } from '@fabric/platform-observability';
import { IdempotencyKeyReusedError, OutcomeStoreUnavailableError, OutcomeUnknownError } from './call.dedup.errors';

/** One key's record in the bucket: the call is running on an instance, or how it ended. */
const DedupRecordSchema = z.discriminatedUnion('state', [
  z.object({
    state: z.literal('running'),
    fingerprint: z.string(),
    instance: z.string(),
    callId: z.string(),
    deadline: z.number(),
  }),
  z.object({ state: z.literal('done'), fingerprint: z.string(), reply: CallReplySchema }),
]);
type DedupRecord = z.infer<typeof DedupRecordSchema>;
type Running = Extract<DedupRecord, { state: 'running' }>;

export interface CallDedupOptions {
  nats: NatsClient;
  subjects: FabricSubjects;
  service: string;
  instanceId: string;
  /** Name of the JetStream KV bucket shared by every replica of every service of the fabric. */
  bucket: string;
  /** How long a record is kept after its last write: the window in which a repeated request is recognised. */
  ttlMs: number;
  metrics: MetricsRegistry;
  /** How often a call waiting for another replica's outcome reads the record (ms). */
  pollMs?: number;
  /** How often it asks that replica whether it still runs the call (ms). */
  probeMs?: number;
}

/** A record still "running" this long after the call's deadline belongs to a handler nobody waits for. */
const OVERRUN_GRACE_MS = 1_000;
/** Probes in a row in which the running replica says it does not hold the call before the outcome is unknown. */
const MISSES_TO_GIVE_UP = 3;

/**
 * Runs a call that carries an idempotency key at most once across every replica, and answers repeats with
 * the first execution's outcome. The first arrival claims the key in a JetStream KV bucket (`create`, so
 * exactly one replica wins), runs the handler, records `{ done, reply }` and only then answers. A repeat
 * that arrives on the same replica shares the running execution; on another replica it reads the record:
 * done, it gets the stored reply; running, it waits for the outcome while the running replica says it still
 * holds the call; and when that replica is gone or the call overran its deadline without an outcome, it
 * fails with "outcome unknown" — never with a second run. Calls without a key simply run.
 */
export class CallDedup {
  private readonly log = new Logger('CallDedup');
  private kv?: Promise<KvBucket>;
  /** Keys this replica runs or waits for: repeats arriving here share the one outcome. */
  private readonly local = new Map<string, { fingerprint: string; deadline: number; outcome: Promise<CallReply> }>();
  private readonly repeats;
  private readonly pollMs: number;
  private readonly probeMs: number;

  constructor(private readonly options: CallDedupOptions) {
    this.pollMs = options.pollMs ?? 50;
    this.probeMs = options.probeMs ?? 500;
    this.repeats = options.metrics.counter(
      'fabric_service_repeated_calls_total',
      'Calls that arrived again with the idempotency key of an earlier one, by how they were answered',
      ['name', 'answer'],
    );
  }

  /** Runs `execute` unless the request repeats one that ran or runs already; resolves to the call's reply. */
  run(request: CallRequest, execute: () => Promise<CallReply>): Promise<CallReply> {
    const key = request.idempotencyKey;
    if (!key) return execute();
    const fingerprint = fingerprintOf(this.options.service, request);
    const known = this.local.get(key);
    if (known) {
      if (known.fingerprint !== fingerprint) return this.refuse(request, new IdempotencyKeyReusedError());
      this.repeats.inc({ name: request.name, answer: 'joined' });
      return untilOverrun(known.outcome, known.deadline);
    }
    const outcome = this.once(key, fingerprint, request, execute).finally(() => this.local.delete(key));
    this.local.set(key, { fingerprint, deadline: request.deadline, outcome });
    return outcome;
  }

  private async once(
    key: string,
    fingerprint: string,
    request: CallRequest,
    execute: () => Promise<CallReply>,
  ): Promise<CallReply> {
    const kv = await this.bucket();
    const claim: Running = {
      state: 'running',
      fingerprint,
      instance: this.options.instanceId,
      callId: request.id,
      deadline: request.deadline,
    };
    // A record can expire between a refused claim and its read: claim again (a couple of times at most).
    for (let attempt = 0; attempt < 3; attempt++) {
      let revision: number;
      try {
        revision = await kv.create(key, encodeJson(claim));
      } catch (error) {
        if (!(error instanceof RevisionConflictError)) throw new OutcomeStoreUnavailableError({ cause: error });
        const record = await this.read(kv, key).catch((cause: unknown) => {
          throw cause instanceof OutcomeUnknownError ? cause : new OutcomeStoreUnavailableError({ cause });
        });
        if (record) return this.follow(kv, key, request, fingerprint, record);
        continue;
      }
      return this.execute(kv, key, revision, claim, execute);
    }
    throw new OutcomeStoreUnavailableError();
  }

  /** The first arrival: runs the handler, records the outcome, then answers. */
  private async execute(
    kv: KvBucket,
    key: string,
    revision: number,
    claim: Running,
    execute: () => Promise<CallReply>,
  ): Promise<CallReply> {
    // Writes are compare-and-set, one after the other. A call outliving the bucket's max_age would lose its
    // claim (and could run again): while it runs, the claim is rewritten every half TTL.
    let writes = Promise.resolve(revision);
    const write = (record: DedupRecord) =>
      (writes = writes.then((current) => kv.update(key, encodeJson(record), current)));
    const refresh = setInterval(
      () => void write(claim).catch(() => undefined),
      Math.max(1_000, Math.floor(this.options.ttlMs / 2)),
    );
    refresh.unref();
    let reply: CallReply;
    try {
      reply = await execute();
    } finally {
      clearInterval(refresh);
    }
    try {
      await write({ state: 'done', fingerprint: claim.fingerprint, reply });
    } catch (error) {
      // The caller still gets its answer; a repeat will learn that the outcome is unknown (never a rerun).
      this.log.warn({ err: error, key }, 'the outcome of a call could not be recorded');
    }
    return reply;
  }

  /** A repeat: the stored reply, the outcome it waits for, or why there will be none. */
  private async follow(
    kv: KvBucket,
    key: string,
    request: CallRequest,
    fingerprint: string,
    record: DedupRecord,
  ): Promise<CallReply> {
    if (record.fingerprint !== fingerprint) return this.refuse(request, new IdempotencyKeyReusedError());
    if (record.state === 'done') {
      this.repeats.inc({ name: request.name, answer: 'replayed' });
      return record.reply;
    }
    try {
      const reply = await this.awaitOutcome(kv, key, record);
      this.repeats.inc({ name: request.name, answer: 'awaited' });
      return reply;
    } catch (error) {
      this.repeats.inc({ name: request.name, answer: 'unknown' });
      throw error;
    }
  }

  /** Polls the record until it holds an outcome, or until no outcome can come any more. */
  private async awaitOutcome(kv: KvBucket, key: string, first: Running): Promise<CallReply> {
    // This replica runs nothing under this key (it checked): the claim is from an earlier life of its id.
    if (first.instance === this.options.instanceId) throw new OutcomeUnknownError('this replica restarted');
    let misses = 0;
    let probedAt = Date.now();
    for (;;) {
      await delay(this.pollMs);
      const record = await this.read(kv, key).catch(() => first); // NATS hiccup: keep what was known
      if (!record) throw new OutcomeUnknownError('its record expired');
      if (record.state === 'done') return record.reply;
      if (Date.now() > record.deadline + OVERRUN_GRACE_MS) throw new OutcomeUnknownError('it overran its deadline');
      if (Date.now() - probedAt < this.probeMs) continue;
      probedAt = Date.now();
      const holder = await this.holder(record);
      if (holder === 'holds') misses = 0;
      else if (holder === 'gone' || (holder === 'free' && ++misses >= MISSES_TO_GIVE_UP)) {
        // It may have recorded the outcome just before it stopped holding the call.
        const last = await this.read(kv, key).catch(() => undefined);
        if (last?.state === 'done') return last.reply;
        throw new OutcomeUnknownError(
          holder === 'gone' ? 'the replica running it stopped' : 'the replica running it let go of it',
        );
      }
    }
  }

  /** Asks the replica named by a claim whether it still runs the call (`gone`: nobody answers for it). */
  private async holder(record: Running): Promise<'holds' | 'free' | 'gone' | 'unknown'> {
    const { nats, subjects, service } = this.options;
    try {
      const reply = ProbeReplySchema.parse(
        await nats.requestJson(
          subjects.probe(service, record.instance),
          { ids: [record.callId] },
          { timeoutMs: 1_000 },
        ),
      );
      return reply.held.includes(record.callId) ? 'holds' : 'free';
    } catch (error) {
      return error instanceof NoRespondersError ? 'gone' : 'unknown';
    }
  }

  private async read(kv: KvBucket, key: string): Promise<DedupRecord | undefined> {
    const entry = await kv.get(key);
    if (!entry) return undefined;
    const record = DedupRecordSchema.safeParse(tryDecodeJson(entry.value));
    if (!record.success) throw new OutcomeUnknownError('its record is unreadable');
    return record.data;
  }

  private refuse(request: CallRequest, error: Error): Promise<never> {
    this.repeats.inc({ name: request.name, answer: 'refused' });
    return Promise.reject(error);
  }

  /** The bucket, opened on first use (and again after a failed open). */
  private bucket(): Promise<KvBucket> {
    this.kv ??= this.options.nats.keyValue(this.options.bucket, { history: 1, ttlMs: this.options.ttlMs });
    return this.kv.catch((error: unknown) => {
      this.kv = undefined;
      throw new OutcomeStoreUnavailableError({ cause: error });
    });
  }
}

/** The outcome of a running call, or "unknown" once it overran its deadline (as a repeat elsewhere would say). */
function untilOverrun(outcome: Promise<CallReply>, deadline: number): Promise<CallReply> {
  let timer: NodeJS.Timeout | undefined;
  const overrun = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () => reject(new OutcomeUnknownError('it overran its deadline')),
      Math.min(Math.max(0, deadline + OVERRUN_GRACE_MS - Date.now()), 2 ** 31 - 1),
    );
  });
  return Promise.race([outcome, overrun]).finally(() => clearTimeout(timer));
}

/** What a key stands for: a repeat must be the same call, not another one that happens to share its key. */
function fingerprintOf(service: string, request: CallRequest): string {
  const { operation, name, arguments: args, uri, params } = request;
  return createHash('sha256')
    .update(canonicalJson([service, operation, name, args ?? {}, uri ?? null, params ?? null]))
    .digest('base64url');
}

/** JSON with object keys sorted, so that a client re-serialising its arguments still matches. */
function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  if (typeof value === 'object' && value !== null) {
    const record = value as Record<string, unknown>;
    const fields = Object.keys(record)
      .filter((key) => record[key] !== undefined)
      .sort()
      .map((key) => `${JSON.stringify(key)}:${canonicalJson(record[key])}`);
    return `{${fields.join(',')}}`;
  }
  return JSON.stringify(value) ?? 'null';
}
