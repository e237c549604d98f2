import { randomBytes, randomUUID } from 'node:crypto';
import { AuditBatchSchema, AuditEventSchema, auditStorage, fabricSubjects, type AuditEvent } from '@fabric/contracts';
import { loadConfig } from '@fabric/platform-config';
import { NatsClient, decodeJson } from '@fabric/platform-nats';
import { eventually } from '@fabric/platform-nats/testing';
import { MetricsRegistry } from '@fabric/platform-observability';
import { gatewayEnvSchema } from '../gateway.config';
import { AuditPublisher } from './audit.publisher';

const NATS_URL = process.env['NATS_URL'] ?? 'nats://127.0.0.1:4222';

const eventOf = (n: number): AuditEvent => ({
  id: randomUUID(),
  time: new Date().toISOString(),
  operation: 'tools/call',
  target: `tool_${n}`,
  outcome: 'ok',
  cached: false,
  durationMs: 1.5,
  gateway: 'gw-spec',
});

/** The value of a counter sample in the registry's text, 0 when it has none. */
async function sample(metrics: MetricsRegistry, line: string): Promise<number> {
  const text = await metrics.text();
  const found = text.split('\n').find((row) => row.startsWith(`${line} `));
  return found ? Number(found.slice(line.length + 1)) : 0;
}

describe('AuditPublisher (against the machine NATS)', () => {
  let nats: NatsClient;
  const namespaces: string[] = [];

  const publisherIn = async (env: Record<string, string> = {}) => {
    const namespace = `audit${randomBytes(4).toString('hex')}`;
    namespaces.push(namespace);
    const metrics = new MetricsRegistry();
    const config = loadConfig(gatewayEnvSchema, { FABRIC_NAMESPACE: namespace, NATS_URL, ...env });
    const publisher = new AuditPublisher(nats, config, metrics);
    await publisher.onApplicationBootstrap();
    return {
      publisher,
      metrics,
      stream: auditStorage(namespace).stream,
      subject: fabricSubjects(namespace).auditEvents,
    };
  };

  beforeAll(async () => {
    nats = await NatsClient.connect({ url: NATS_URL, name: 'audit-publisher-spec' });
  });

  afterAll(async () => {
    const jsm = await nats.connection.jetstreamManager();
    for (const namespace of namespaces) await jsm.streams.delete(auditStorage(namespace).stream).catch(() => undefined);
    await nats.close();
  });

  it('stores every recorded event in the audit stream, batched, without the caller waiting', async () => {
    const { publisher, metrics, stream, subject } = await publisherIn({ AUDIT_FLUSH_MS: '60000' });
    const events = Array.from({ length: 1_200 }, (_, n) => eventOf(n));
    for (const event of events) publisher.record(event);
    // record() returned before anything was acknowledged: two full batches went out, the rest waits its flush.
    expect(publisher.inFlight).toBe(1_200);
    await publisher.beforeApplicationShutdown();
    expect(publisher.inFlight).toBe(0);
    const jsm = await nats.connection.jetstreamManager();
    expect((await jsm.streams.info(stream)).state.messages).toBe(3);
    const stored: AuditEvent[] = [];
    for (let seq = 1; seq <= 3; seq++) {
      const message = await jsm.streams.getMessage(stream, { seq });
      expect(message.subject).toBe(subject);
      for (const event of AuditBatchSchema.parse(decodeJson(message.data)).events)
        stored.push(AuditEventSchema.parse(event));
    }
    expect(stored.map((event) => event.id)).toEqual(events.map((event) => event.id));
    expect(stored[0]).toEqual(events[0]);
    expect(await sample(metrics, 'fabric_audit_events_published_total')).toBe(1_200);
  });

  it('sends a lone event after AUDIT_FLUSH_MS', async () => {
    const { publisher, metrics } = await publisherIn({ AUDIT_FLUSH_MS: '20' });
    publisher.record(eventOf(1));
    await eventually(
      async () => (await sample(metrics, 'fabric_audit_events_published_total')) === 1,
      5_000,
      'the flushed event',
    );
    expect(publisher.inFlight).toBe(0);
  });

  it('counts, and never throws, the events a full stream refuses', async () => {
    const { publisher, metrics, stream } = await publisherIn({ AUDIT_STREAM_MAX_MESSAGES: '1', AUDIT_FLUSH_MS: '5' });
    expect(() => publisher.record(eventOf(0))).not.toThrow();
    await eventually(
      async () => (await sample(metrics, 'fabric_audit_events_published_total')) === 1,
      5_000,
      'the first batch',
    );
    for (let n = 1; n < 40; n++) expect(() => publisher.record(eventOf(n))).not.toThrow();
    await publisher.beforeApplicationShutdown();
    const stored = (await (await nats.connection.jetstreamManager()).streams.info(stream)).state.messages;
    const refused = await sample(metrics, 'fabric_audit_events_dropped_total{reason="stream_full"}');
    expect([stored, refused]).toEqual([1, 39]);
  });

  it('drops and counts what exceeds the buffer instead of queueing it', async () => {
    const { publisher, metrics } = await publisherIn({ AUDIT_BUFFER: '5', AUDIT_FLUSH_MS: '60000' });
    for (let n = 0; n < 12; n++) publisher.record(eventOf(n));
    expect(publisher.inFlight).toBe(5);
    expect(await sample(metrics, 'fabric_audit_events_dropped_total{reason="buffer_full"}')).toBe(7);
    await publisher.beforeApplicationShutdown();
    await eventually(
      async () => (await sample(metrics, 'fabric_audit_events_published_total')) === 5,
      5_000,
      'the five',
    );
  });
});
