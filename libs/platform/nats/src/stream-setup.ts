import type { JetStreamManager, NatsConnection, StreamConfig, StreamInfo } from 'nats';
import { retrying, type JetStreamContext } from './jetstream-context';
import { JetStreamReplicasError } from './nats.errors';
import { JetStreamApiCode, jetStreamApiCode } from './nats-failures';

const REPLICA_FAILURES = new Set<number>([
  JetStreamApiCode.ReplicasNotSupported,
  JetStreamApiCode.NoSuitablePeers,
  JetStreamApiCode.InsufficientResources,
]);

/**
 * Makes sure stream `name` exists with the settings in `wanted` and `setup.replicas` replicas: `create`
 * makes it when it is missing; an existing one whose settings differ is updated (JetStream moves a stream
 * from 1 to 3 replicas in a cluster). When the servers cannot hold that many replicas it fails with a
 * `JetStreamReplicasError` that names `JETSTREAM_REPLICAS`, not with the server's bare refusal.
 */
export async function ensureStream(
  setup: JetStreamContext,
  name: string,
  wanted: Partial<StreamConfig>,
  create: () => Promise<unknown>,
): Promise<void> {
  const { connection, jsm, replicas } = setup;
  // A single server accepts an update to 3 replicas without complaint and keeps one: refuse it here.
  if (replicas > 1 && !connection.info?.cluster) {
    throw new JetStreamReplicasError(name, replicas, 'the NATS server is a single server, not a cluster');
  }
  const target = { ...wanted, num_replicas: replicas };
  try {
    await retrying(setup, async () => {
      const current = await currentInfo(jsm, name);
      if (!current) {
        try {
          return await create();
        } catch (error) {
          // Created by another process in between (with other settings): update it below.
          if (jetStreamApiCode(error) !== JetStreamApiCode.StreamNameInUse) throw error;
          return update(setup, name, target, await currentInfo(jsm, name));
        }
      }
      return update(setup, name, target, current);
    });
  } catch (error) {
    throw replicasError(error, name, replicas, connection) ?? error;
  }
}

async function currentInfo(jsm: JetStreamManager, name: string): Promise<StreamInfo | undefined> {
  try {
    return await jsm.streams.info(name);
  } catch (error) {
    if (jetStreamApiCode(error) === JetStreamApiCode.StreamNotFound) return undefined;
    throw error;
  }
}

async function update(
  setup: JetStreamContext,
  name: string,
  target: Partial<StreamConfig>,
  current: StreamInfo | undefined,
): Promise<void> {
  if (!current) return;
  const changed = (Object.keys(target) as (keyof StreamConfig)[]).filter(
    (key) => JSON.stringify(current.config[key]) !== JSON.stringify(target[key]),
  );
  if (changed.length === 0) return;
  await setup.jsm.streams.update(name, { ...current.config, ...target });
  if (current.config.num_replicas !== target.num_replicas) {
    setup.notice(
      `JetStream stream ${name}: ${current.config.num_replicas} -> ${target.num_replicas} replicas (JETSTREAM_REPLICAS)`,
    );
  }
}

/** The server's refusal of a replica count, in words that name the setting; undefined for other failures. */
function replicasError(
  error: unknown,
  name: string,
  replicas: number,
  connection: NatsConnection,
): JetStreamReplicasError | undefined {
  const code = jetStreamApiCode(error);
  if (code === undefined || !REPLICA_FAILURES.has(code)) return undefined;
  const servers = connection.info?.connect_urls?.length;
  const reason = `${(error as Error).message}${servers ? ` (the cluster advertises ${servers} servers)` : ''}`;
  return new JetStreamReplicasError(name, replicas, reason, { cause: error });
}
