// The measurement method scenarios that compare setups share: interleaved repetitions, a warm-up, then one
// closed-loop window per concurrency with the servers' CPU read at the window's edges, and medians.
import { machineBusyMs } from './processes.mjs';
import { fixed } from './report.mjs';
import { median } from './stats.mjs';

// Above this, other processes on the machine took enough CPU to disturb a measurement: it is flagged.
export const NOISY_CORES = 0.25;

/** A B C …, then … C B A: every setup meets early and late parts of the run alike. */
export function schedule(setups, repetitions) {
  return Array.from({ length: repetitions }, (_, rep) =>
    (rep % 2 ? [...setups].reverse() : setups).map((setup) => ({ rep, setup })),
  ).flat();
}

function serverCpuMs(started) {
  return started.processes.reduce((sum, server) => sum + server.cpuTimeMs(), 0);
}

/**
 * Warm-up of `mode.warmupCalls` calls, then one window of `mode.durationSec` per concurrency (reversed on
 * odd repetitions) against the started setup `started` ({ processes }), posting `options` (url, headers,
 * bodyTemplate, expectText). `probe`, when given, is read at both edges of each window
 * (`read() → Promise<state>`, undefined when it fails) and `summarize(before, after)` returns
 * `{ fields, text }`: fields added to the measurement, text added to its log line.
 */
export async function measureConcurrencies({ rep, name, started, options, concurrency, mode, load, log, probe }) {
  const warmup = await load.run({ ...options, connections: 16, amount: mode.warmupCalls });
  const measurements = [];
  const order = rep % 2 ? [...concurrency].reverse() : concurrency;
  for (const connections of order) {
    let before;
    let after;
    let probeBefore;
    let probeAfter;
    const snapshot = () => ({ servers: serverCpuMs(started), load: load.cpuTimeMs(), machine: machineBusyMs() });
    const result = await load.run(
      { ...options, connections, durationSec: mode.durationSec },
      {
        onWindowOpen: () => {
          before = snapshot();
          probeBefore = probe?.read().catch(() => undefined);
        },
        onWindowClosed: () => {
          after = snapshot();
          probeAfter = probe?.read().catch(() => undefined);
        },
      },
    );
    const servers = after.servers - before.servers;
    const loadMs = after.load - before.load;
    const probed = probe ? probe.summarize(await probeBefore, await probeAfter) : { fields: {}, text: '' };
    const measurement = {
      rep,
      setup: name,
      connections,
      rps: result.rps,
      latency: result.latency,
      errorCount: result.errorCount + (measurements.length === 0 ? warmup.errorCount : 0),
      firstError: result.firstError ?? warmup.firstError,
      cpuPerCall: servers / result.ok,
      serverCores: servers / result.windowMs,
      loadCores: loadMs / result.windowMs,
      otherCores: Math.max(0, (after.machine - before.machine - servers - loadMs) / result.windowMs),
      ...probed.fields,
    };
    log(
      `  rep ${rep + 1} ${name.padEnd(17)} c=${String(connections).padEnd(2)}: ${fixed(result.rps, 0).padStart(5)} calls/s, ` +
        `p50 ${fixed(result.latency.p50, 2)} ms, p99 ${fixed(result.latency.p99, 2)} ms, ` +
        `server CPU ${fixed(measurement.cpuPerCall, 3)} ms/call (${fixed(measurement.serverCores, 2)} core), ` +
        `load ${fixed(measurement.loadCores, 2)} core${probed.text}, errors ${measurement.errorCount}` +
        (measurement.otherCores > NOISY_CORES
          ? `, other processes ${fixed(measurement.otherCores, 2)} core (NOISY)`
          : '') +
        (measurement.firstError ? ` (first: ${measurement.firstError})` : ''),
    );
    measurements.push(measurement);
  }
  return measurements;
}

/**
 * Medians per setup and concurrency over the repetitions; `extra` maps more row fields to the
 * measurement field whose median they are.
 */
export function aggregate(measurements, setups, concurrency, extra = {}) {
  return setups.flatMap((setup) =>
    concurrency.map((connections) => {
      const runs = measurements.filter((m) => m.setup === setup.name && m.connections === connections);
      const pick = (select) => median(runs.map(select));
      return {
        setup: setup.name,
        connections,
        rps: pick((m) => m.rps),
        perRep: runs.map((m) => m.rps),
        p50: pick((m) => m.latency.p50),
        p99: pick((m) => m.latency.p99),
        cpuPerCall: pick((m) => m.cpuPerCall),
        serverCores: pick((m) => m.serverCores),
        loadCores: pick((m) => m.loadCores),
        errors: runs.reduce((sum, m) => sum + m.errorCount, 0),
        ...Object.fromEntries(Object.entries(extra).map(([key, field]) => [key, pick((m) => m[field])])),
      };
    }),
  );
}

/** The aggregated row of `setup` at `connections`. */
export function row(rows, setup, connections) {
  return rows.find((r) => r.setup === setup && r.connections === connections);
}

/** Errors of all measurements, the first error's text, and a sentence on how many were disturbed by other processes. */
export function tally(measurements) {
  const errors = measurements.reduce((sum, m) => sum + m.errorCount, 0);
  const noisy = measurements.filter((m) => m.otherCores > NOISY_CORES).length;
  const noise =
    `${noisy} of ${measurements.length} measurements had other processes on the machine using more than ${NOISY_CORES} core` +
    (noisy > 0 ? ': rerun on a quieter machine before trusting small differences' : '');
  return { errors, firstError: measurements.find((m) => m.firstError)?.firstError, noise };
}
