import 'reflect-metadata';
import { Injectable, Module, type INestApplication } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { randomBytes, randomUUID } from 'node:crypto';
import { z } from 'zod';
import { AnnouncementSchema, fabricSubjects, type Announcement, type CallReply } from '@fabric/contracts';
import { loadConfig } from '@fabric/platform-config';
import { NatsClient, decodeJson } from '@fabric/platform-nats';
import { ReadinessRegistry } from '@fabric/platform-observability';
import { McpTool } from './decorators';
import { FabricServer } from './fabric.server';
import { serviceEnvSchema } from './kit.config';
import { ServiceKitModule } from './service-kit.module';
import { eventuallyValue } from '@fabric/platform-nats/testing';

// The heartbeat and the readiness checks on the machine's real NATS, in a namespace of their own.
const NATS_URL = process.env['NATS_URL'] ?? 'nats://127.0.0.1:4222';
const namespace = `t${randomBytes(6).toString('hex')}`;
const subjects = fabricSubjects(namespace);
const HEARTBEAT_MS = 200;

@Injectable()
class PingTools {
  @McpTool({ name: 'ping', description: 'Answers pong', input: z.object({}) })
  ping(): string {
    return 'pong';
  }
}

@Module({ providers: [PingTools] })
class PingModule {}

/** A readiness check that hangs until it `passes`, and records that it was called. */
class HangingCheck {
  called = false;
  passes = false;
  private readonly hung: (() => void)[] = [];
  readonly check = (): Promise<void> | void => {
    this.called = true;
    if (this.passes) return;
    return new Promise<void>((resolve) => this.hung.push(resolve));
  };

  /** Lets the calls still hanging end, so that no round's timeout timer outlives the test. */
  release(): void {
    this.passes = true;
    this.hung.splice(0).forEach((resolve) => resolve());
  }
}

const waitFor = <T>(what: string, probe: () => T | undefined | false, timeoutMs = 5_000): Promise<T> =>
  eventuallyValue(probe, timeoutMs, what);

/** Largest pause between two consecutive announcements. */
const largestGap = (beats: Announcement[]) =>
  Math.max(...beats.slice(1).map((beat, i) => beat.sentAt - beats[i].sentAt));

describe('the heartbeat while a readiness check hangs', () => {
  let client: NatsClient;
  const heard: Announcement[] = [];
  const apps: INestApplication[] = [];
  const checks: HangingCheck[] = [];

  beforeAll(async () => {
    client = await NatsClient.connect({ url: NATS_URL, name: 'heartbeat-int-spec' });
    client.subscribe(subjects.announce, (msg) => {
      heard.push(AnnouncementSchema.parse(decodeJson(msg.data)));
    });
    await client.connection.flush();
  });

  afterAll(async () => {
    for (const check of checks) check.release();
    for (const app of apps) await app.close();
    await client?.close();
  });

  /** Starts a service whose readiness includes `check`, and returns its instance id. */
  async function startService(service: string, check: HangingCheck, readinessTimeoutMs: number): Promise<string> {
    const env = loadConfig(serviceEnvSchema, {
      NATS_URL,
      FABRIC_NAMESPACE: namespace,
      LOG_LEVEL: 'silent',
      HEARTBEAT_MS: String(HEARTBEAT_MS),
      READINESS_INTERVAL_MS: '100',
      READINESS_TIMEOUT_MS: String(readinessTimeoutMs),
      SHUTDOWN_GRACE_MS: '1000',
    });
    const app = await NestFactory.create(ServiceKitModule.forRoot(PingModule, { service, version: '1.0.0' }, env), {
      logger: false,
    });
    apps.push(app);
    await app.init();
    checks.push(check);
    app.get(ReadinessRegistry).register('database', check.check);
    app.connectMicroservice({ strategy: app.get(FabricServer) });
    await app.startAllMicroservices();
    await app.listen(0);
    return app.get(FabricServer).instanceId;
  }

  /** The next `count` announcements of `instanceId` heard after now. */
  async function nextBeats(instanceId: string, count: number): Promise<Announcement[]> {
    const from = heard.length;
    return waitFor(
      `${count} heartbeats`,
      () => {
        const beats = heard.slice(from).filter((beat) => beat.instanceId === instanceId);
        return beats.length >= count && beats.slice(0, count);
      },
      count * HEARTBEAT_MS * 3,
    );
  }

  function ping(service: string): Promise<CallReply> {
    const request = {
      id: randomUUID(),
      operation: 'tools.call',
      name: 'ping',
      arguments: {},
      deadline: Date.now() + 1_000,
    };
    return client.requestJson(subjects.request(service, 'tools.call'), request, {
      timeoutMs: 1_000,
    }) as Promise<CallReply>;
  }

  it('keeps announcing every HEARTBEAT_MS, as ready, while a check has not answered within its timeout', async () => {
    const check = new HangingCheck();
    const instanceId = await startService('stuck', check, 60_000);
    await waitFor('the readiness check to be called', () => check.called);
    const beats = await nextBeats(instanceId, 8);
    // The gateway drops an instance after three missed beats: no pause may come near that.
    expect(largestGap(beats)).toBeLessThan(HEARTBEAT_MS * 2.5);
    expect(beats.map((beat) => beat.state)).toEqual(Array(8).fill('ready'));
    expect(await ping('stuck')).toMatchObject({ ok: true, result: { content: [{ type: 'text', text: 'pong' }] } });
  });

  it('announces unready, on time, once the hanging check is past its timeout, and ready again when it passes', async () => {
    const check = new HangingCheck();
    const instanceId = await startService('flaky', check, 300);
    await waitFor('an unready announcement', () =>
      heard.some((beat) => beat.instanceId === instanceId && beat.state === 'unready'),
    );
    const beats = await nextBeats(instanceId, 6);
    expect(largestGap(beats)).toBeLessThan(HEARTBEAT_MS * 2.5);
    expect(beats.map((beat) => beat.state)).toEqual(Array(6).fill('unready'));

    check.passes = true;
    const from = heard.length;
    await waitFor('a ready announcement', () =>
      heard.slice(from).some((beat) => beat.instanceId === instanceId && beat.state === 'ready'),
    );
    expect(await ping('flaky')).toMatchObject({ ok: true });
  });
});
