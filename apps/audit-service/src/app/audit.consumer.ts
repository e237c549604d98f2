import {
  Inject,
  Injectable,
  Logger,
  type BeforeApplicationShutdown,
  type OnApplicationBootstrap,
} from '@nestjs/common';
import { setTimeout as delay } from 'node:timers/promises';
import { AuditBatchSchema, AuditEventSchema, auditStorage, fabricSubjects } from '@fabric/contracts';
import { NatsClient, tryDecodeJson, type DurableConsumer, type DurableMessage } from '@fabric/platform-nats';
import { MetricsRegistry, ReadinessRegistry } from '@fabric/platform-observability';
import type { AuditEventRecord } from './audit-event.entity';
import { AUDIT_ENV, type AuditEnv } from './audit.config';
import { AuditRepository, toRecord } from './audit.repository';

/** How long one fetch waits for the first event. */
const FETCH_WAIT_MS = 1_000;
/** Pause before a failed batch is delivered again (the database may be restarting). */
const RETRY_DELAY_MS = 2_000;

/**
 * Moves audit events from the stream into the table: a durable consumer that every replica shares, batches of
 * up to `AUDIT_BATCH_SIZE` gateway batches written in one transaction, then acknowledged. Delivery is at least once (a replica
 * killed mid-batch leaves its events unacknowledged: they are delivered again after `AUDIT_ACK_WAIT_MS`); the
 * insert skips ids already stored, so each event is one row. A malformed event is logged, counted and dropped.
 */
@Injectable()
export class AuditConsumer implements OnApplicationBootstrap, BeforeApplicationShutdown {
  private readonly log = new Logger('AuditConsumer');
  private readonly stored;
  private readonly malformed;
  private readonly failedBatches;
  private consumer?: DurableConsumer;
  private running?: Promise<void>;
  private stopping = false;

  constructor(
    @Inject(NatsClient) private readonly nats: NatsClient,
    @Inject(AuditRepository) private readonly repository: AuditRepository,
    @Inject(AUDIT_ENV) private readonly env: AuditEnv,
    @Inject(MetricsRegistry) metrics: MetricsRegistry,
    @Inject(ReadinessRegistry) readiness: ReadinessRegistry,
  ) {
    this.stored = metrics.counter('fabric_audit_events_stored_total', 'Audit events written (new or already stored)');
    this.malformed = metrics.counter('fabric_audit_events_malformed_total', 'Audit events dropped as malformed');
    this.failedBatches = metrics.counter(
      'fabric_audit_batches_failed_total',
      'Batches whose write failed (redelivered)',
    );
    readiness.register('audit consumer', () => {
      if (!this.consumer) throw new Error('the audit stream consumer is not open');
    });
  }

  async onApplicationBootstrap(): Promise<void> {
    const storage = auditStorage(this.env.FABRIC_NAMESPACE);
    const stream = await this.nats.durableStream(storage.stream, {
      subjects: [fabricSubjects(this.env.FABRIC_NAMESPACE).auditEvents],
      retention: 'limits',
      maxAgeMs: this.env.AUDIT_STREAM_MAX_AGE_MS,
      maxBytes: this.env.AUDIT_STREAM_MAX_BYTES,
      maxMessages: this.env.AUDIT_STREAM_MAX_MESSAGES || -1,
    });
    this.consumer = await stream.consumer({
      name: storage.consumer,
      ackWaitMs: this.env.AUDIT_ACK_WAIT_MS,
      maxAckPending: Math.max(1_000, this.env.AUDIT_BATCH_SIZE * 4),
    });
    this.running = this.run(this.consumer);
  }

  /** Finishes the batch in hand, then stops taking events. */
  async beforeApplicationShutdown(): Promise<void> {
    this.stopping = true;
    await this.running;
  }

  private async run(consumer: DurableConsumer): Promise<void> {
    while (!this.stopping) {
      let batch: DurableMessage[];
      try {
        batch = await consumer.fetch(this.env.AUDIT_BATCH_SIZE, FETCH_WAIT_MS);
      } catch (error) {
        this.log.warn({ err: error }, 'fetching audit events failed; trying again');
        await delay(RETRY_DELAY_MS);
        continue;
      }
      if (batch.length > 0) await this.store(batch);
    }
  }

  private async store(batch: DurableMessage[]): Promise<void> {
    const records: AuditEventRecord[] = [];
    const taken: DurableMessage[] = [];
    for (const message of batch) {
      // A message is a gateway's batch of events; each is checked on its own.
      const events = AuditBatchSchema.safeParse(tryDecodeJson(message.data));
      const valid = (events.success ? events.data.events : []).flatMap((raw) => {
        const parsed = AuditEventSchema.safeParse(raw);
        return parsed.success && !Number.isNaN(Date.parse(parsed.data.time)) ? [toRecord(parsed.data)] : [];
      });
      const bad = events.success ? events.data.events.length - valid.length : 1;
      if (bad > 0) {
        this.malformed.inc(bad);
        this.log.warn({ seq: message.seq, malformed: bad }, 'dropped malformed audit events');
      }
      if (valid.length === 0) {
        message.drop('no valid audit event');
        continue;
      }
      records.push(...valid);
      taken.push(message);
    }
    try {
      await this.repository.insert(records);
    } catch (error) {
      this.failedBatches.inc();
      this.log.error({ err: error, events: taken.length }, 'storing a batch of audit events failed; it is redelivered');
      for (const message of taken) message.retry(RETRY_DELAY_MS);
      return;
    }
    this.stored.inc(records.length);
    // Acknowledged only once stored: a crash before this point redelivers the batch, and the insert skips it.
    const last = taken.pop();
    for (const message of taken) message.ack();
    await last?.ackConfirmed().catch((error: unknown) => {
      this.log.warn({ err: error }, 'an acknowledgement was not confirmed; the batch may be delivered again');
    });
  }
}
