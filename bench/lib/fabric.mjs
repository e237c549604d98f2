// A fabric for one measurement: N replicas of a service and one gateway, started from the build output
// as real processes on a namespace of their own in the machine's NATS (never stopped or reconfigured).
import { connect } from 'nats';
import { cpuFor } from './pinning.mjs';
import { BenchProcess, eventually, findNatsServerPid } from './processes.mjs';

export const NATS_URL = process.env.NATS_URL ?? 'nats://127.0.0.1:4222';

/** Pid of the nats-server the fabrics use when it runs on this machine (its CPU is reported), else undefined. */
export function localNatsServerPid() {
  const { hostname } = new URL(NATS_URL.split(',')[0].replace(/^nats:/, 'http:'));
  return ['127.0.0.1', 'localhost', '[::1]'].includes(hostname) ? findNatsServerPid() : undefined;
}

/**
 * The sum over all label sets of each metric in `names`, from the Prometheus text of `baseUrl`/metrics;
 * a metric the server does not declare at all is undefined (one declared but never counted is 0).
 */
export async function metricTotals(baseUrl, names) {
  const lines = (await (await fetch(`${baseUrl}/metrics`)).text()).split('\n');
  return Object.fromEntries(
    names.map((name) => {
      let total;
      for (const line of lines) {
        if (line.startsWith(`# TYPE ${name} `)) total ??= 0;
        else if (line.startsWith(`${name}{`) || line.startsWith(`${name} `)) total = (total ?? 0) + sampleValue(line);
      }
      return [name, total];
    }),
  );
}

/** The value of a Prometheus sample line (`name{labels} value [timestamp]`; label values may hold spaces). */
function sampleValue(line) {
  const rest = line.includes('{') ? line.slice(line.lastIndexOf('}') + 1) : line.slice(line.indexOf(' '));
  return Number(rest.trim().split(' ')[0]);
}

/** Live instances of `service` in the gateway's catalog, from its `/metrics`. */
async function instancesSeen(gateway, service) {
  const text = await (await fetch(`${gateway.url}/metrics`)).text();
  const line = text
    .split('\n')
    .find((candidate) => candidate.startsWith(`fabric_gateway_catalog_instances{service="${service}"}`));
  return line ? Number(line.split(' ').pop()) : 0;
}

/**
 * Starts `replicas` instances of the app `app` (service name `service`), then a gateway, and waits until
 * the gateway's catalog holds every instance (on the machine's NATS unless `natsUrl` names another).
 * `serviceNodeArgs`/`gatewayNodeArgs` go to node (e.g. `--cpu-prof`).
 */
export async function startFabric({
  app,
  service,
  replicas,
  namespace,
  layout,
  natsUrl = NATS_URL,
  serviceEnv = {},
  gatewayEnv = {},
  serviceNodeArgs = [],
  gatewayNodeArgs = [],
}) {
  // One process per replica (WORKERS=1 whatever the shell says): replicas are what this counts.
  // Every other setting at its default (LOG_LEVEL=info: one access line per request, as operators run it).
  const env = { NATS_URL: natsUrl, FABRIC_NAMESPACE: namespace, LOG_LEVEL: 'info', WORKERS: '1' };
  const processes = [];
  const stop = () => Promise.all(processes.map((started) => started.kill()));
  try {
    for (let i = 0; i < replicas; i++) {
      const name = `${app}#${i + 1}`;
      processes.push(
        await BenchProcess.app(app, {
          name,
          env: { ...env, ...serviceEnv },
          cpuList: cpuFor(layout, 'services'),
          nodeArgs: serviceNodeArgs,
        }),
      );
    }
    const services = [...processes];
    await Promise.all(services.map((started) => started.ready()));
    const gateway = await BenchProcess.app('gateway', {
      env: { ...env, ...gatewayEnv },
      cpuList: cpuFor(layout, 'gateway'),
      nodeArgs: gatewayNodeArgs,
    });
    processes.push(gateway);
    await gateway.ready();
    await eventually(
      async () => (await instancesSeen(gateway, service)) === replicas,
      15_000,
      `the gateway to list ${replicas} ${service} instance(s)`,
    );
    return { gateway, services, mcpUrl: `${gateway.url}/mcp`, stop };
  } catch (error) {
    await stop();
    throw error;
  }
}

/** Deletes the JetStream streams (session KV buckets, SSE event logs) of every namespace starting with `prefix`. */
export async function removeNamespaces(prefix) {
  const connection = await connect({ servers: NATS_URL, timeout: 2_000 });
  try {
    const manager = await connection.jetstreamManager();
    const names = [];
    for await (const stream of manager.streams.list()) {
      const name = stream.config.name;
      if (name.startsWith(`KV_${prefix}`) || name.startsWith(prefix)) names.push(name);
    }
    await Promise.all(names.map((name) => manager.streams.delete(name)));
    return names.length;
  } finally {
    await connection.close();
  }
}
