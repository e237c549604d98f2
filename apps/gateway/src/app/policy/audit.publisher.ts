import {
  Inject,
  Injectable,
  Logger,
  type BeforeApplicationShutdown,
  type OnApplicationBootstrap,
} from '@nestjs/common';
import { setTimeout as delay } from 'node:timers/promises';
import { auditStorage, fabricSubjects, type AuditEvent } from '@fabric/contracts';
import { NatsClient, StreamFullError, type DurableStream } from '@fabric/platform-nats';
import { MetricsRegistry } from '@fabric/platform-observability';
import { GATEWAY_ENV, type GatewayEnv } from '../gateway.config';

/** A dropped event is logged at most this often per reason (with how many were dropped silently since). */
const WARN_INTERVAL_MS = 10_000;
/** How long a stopping gateway waits for the publishes it has started. */
const SHUTDOWN_WAIT_MS = 5_000;
/** How long one publish waits for the stream's acknowledgement. */
const PUBLISH_TIMEOUT_MS = 5_000;
/** Pause between attempts to open the stream when JetStream was unreachable at start-up. */
const REOPEN_MS = 5_000;
/** Events of one batch at most, and its size (well below NATS's default 1 MiB payload). */
const BATCH_MAX_EVENTS = 500;
const BATCH_MAX_BYTES = 256 * 1024;

/** Why an audit event was not stored (the label of `fabric_audit_events_dropped_total`). */
export type AuditDropReason = 'buffer_full' | 'stream_full' | 'unavailable';

/** Where the audit stage hands its events. */
export interface AuditSink {
  /** Takes `event` for publishing; returns at once and never throws. */
  record(event: AuditEvent): void;
}

const BATCH_HEAD = Buffer.from('{"events":[');
const BATCH_COMMA = Buffer.from(',');
const BATCH_TAIL = Buffer.from(']}');

/**
 * Publishes audit events to the JetStream stream `auditStorage(namespace).stream` without the client waiting:
 * `record` queues the event and returns; every `AUDIT_FLUSH_MS` (or sooner, once a batch is full) the queued
 * events go out as one `AuditBatch` message — one JetStream write for many calls — whose acknowledgement arrives
 * later. At most `AUDIT_BUFFER` events are queued or unacknowledged at once; beyond it, and when the stream is
 * full or JetStream unreachable, events are dropped, counted (`fabric_audit_events_dropped_total{reason}`) and
 * logged (rate-limited), never a client's error. A batch's message id is its first event's id, so a repeated
 * publish is stored once; the audit service stores each event once by its own id anyway.
 */
@Injectable()
export class AuditPublisher implements AuditSink, OnApplicationBootstrap, BeforeApplicationShutdown {
  private readonly log = new Logger('AuditPublisher');
  private readonly subject: string;
  private readonly published;
  private readonly dropped;
  private readonly warned = new Map<AuditDropReason, { at: number; silent: number }>();
  private stream?: DurableStream;
  /** Events encoded and waiting for the next batch, with their ids and total size. */
  private queued: Buffer[] = [];
  private queuedFirstId?: string;
  private queuedBytes = 0;
  private flushTimer?: NodeJS.Timeout;
  /** Events queued or in a batch not yet acknowledged. */
  private pending = 0;
  private onIdle?: () => void;
  private stopping = false;

  constructor(
    @Inject(NatsClient) private readonly nats: NatsClient,
    @Inject(GATEWAY_ENV) private readonly env: GatewayEnv,
    @Inject(MetricsRegistry) metrics: MetricsRegistry,
  ) {
    this.subject = fabricSubjects(env.FABRIC_NAMESPACE).auditEvents;
    this.published = metrics.counter('fabric_audit_events_published_total', 'Audit events stored in the stream');
    this.dropped = metrics.counter('fabric_audit_events_dropped_total', 'Audit events not stored, by reason', [
      'reason',
    ]);
  }

  /** Events queued or unacknowledged (for tests and shutdown). */
  get inFlight(): number {
    return this.pending;
  }

  async onApplicationBootstrap(): Promise<void> {
    if (!this.env.AUDIT_ENABLED) return;
    // The gateway serves even when the stream cannot be opened now: its events are dropped (and counted) until it is.
    if (!(await this.open())) void this.reopen();
  }

  record(event: AuditEvent): void {
    if (!this.stream) return this.drop('unavailable', 'the audit stream is not open');
    if (this.pending >= this.env.AUDIT_BUFFER) return this.drop('buffer_full', 'too many audit events pending');
    const encoded = Buffer.from(JSON.stringify(event));
    if (this.queuedBytes + encoded.length > BATCH_MAX_BYTES) this.flush();
    this.pending++;
    this.queued.push(encoded);
    this.queuedFirstId ??= event.id;
    this.queuedBytes += encoded.length + 1;
    if (this.queued.length >= BATCH_MAX_EVENTS) this.flush();
    else this.flushTimer ??= setTimeout(() => this.flush(), this.env.AUDIT_FLUSH_MS);
  }

  /** Sends what is queued, then waits (bounded) for every batch, so that a clean stop loses no event. */
  async beforeApplicationShutdown(): Promise<void> {
    this.stopping = true;
    this.flush();
    if (this.pending === 0) return;
    const idle = new Promise<void>((resolve) => (this.onIdle = resolve));
    const timer = new AbortController();
    const timeout = delay(SHUTDOWN_WAIT_MS, 'timeout' as const, { signal: timer.signal }).catch(() => undefined);
    const outcome = await Promise.race([idle, timeout]);
    timer.abort();
    if (outcome === 'timeout')
      this.log.warn({ pending: this.pending }, 'audit events still unacknowledged at shutdown');
  }

  /** Publishes the queued events as one batch. */
  private flush(): void {
    if (this.flushTimer) clearTimeout(this.flushTimer);
    this.flushTimer = undefined;
    const events = this.queued;
    const msgId = this.queuedFirstId;
    if (events.length === 0 || !this.stream || msgId === undefined) return;
    this.queued = [];
    this.queuedFirstId = undefined;
    this.queuedBytes = 0;
    const parts: Buffer[] = [BATCH_HEAD];
    events.forEach((event, index) => parts.push(...(index === 0 ? [event] : [BATCH_COMMA, event])));
    parts.push(BATCH_TAIL);
    const count = events.length;
    this.stream.publish(this.subject, Buffer.concat(parts), { msgId, timeoutMs: PUBLISH_TIMEOUT_MS }).then(
      () => {
        this.published.inc(count);
        this.settled(count);
      },
      (error: unknown) => {
        if (error instanceof StreamFullError) this.drop('stream_full', 'the audit stream is full', error, count);
        else this.drop('unavailable', 'audit events could not be published', error, count);
        this.settled(count);
      },
    );
  }

  private async open(): Promise<boolean> {
    try {
      this.stream = await this.nats.durableStream(auditStorage(this.env.FABRIC_NAMESPACE).stream, {
        subjects: [this.subject],
        retention: 'limits',
        maxAgeMs: this.env.AUDIT_STREAM_MAX_AGE_MS,
        maxBytes: this.env.AUDIT_STREAM_MAX_BYTES,
        maxMessages: this.env.AUDIT_STREAM_MAX_MESSAGES || -1,
      });
      return true;
    } catch (error) {
      this.log.error({ err: error }, 'the audit stream cannot be opened; audit events are dropped until it is');
      return false;
    }
  }

  private async reopen(): Promise<void> {
    while (!this.stopping && !this.nats.connection.isClosed()) {
      await delay(REOPEN_MS, undefined, { ref: false });
      if (this.stopping || (await this.open())) return;
    }
  }

  private settled(count: number): void {
    this.pending -= count;
    if (this.pending === 0) this.onIdle?.();
  }

  private drop(reason: AuditDropReason, message: string, error?: unknown, count = 1): void {
    this.dropped.inc({ reason }, count);
    const now = Date.now();
    const last = this.warned.get(reason);
    if (last && now - last.at < WARN_INTERVAL_MS) {
      last.silent += count;
      return;
    }
    this.warned.set(reason, { at: now, silent: 0 });
    this.log.warn(
      { reason, events: count, droppedSinceLastWarning: last?.silent ?? 0, ...(error ? { err: error } : {}) },
      `audit event${count === 1 ? '' : 's'} dropped: ${message}`,
    );
  }
}
