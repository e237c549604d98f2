// Cache: one read-only knowledge tool (search_nodes over a seeded graph) through the fabric with its cache
// on and off, and the plain node:http floor answering the same result, at concurrency 1, 16 and 64,
// interleaved repetitions on fresh processes, every response checked, the cache's hit ratio per window.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { groupedBarChart } from '../lib/chart.mjs';
import { metricTotals } from '../lib/fabric.mjs';
import { LoadGenerator } from '../lib/load.mjs';
import { callTool, listTools, openSession, resultText, toolsCallTemplate } from '../lib/mcp.mjs';
import { aggregate, measureConcurrencies, row, schedule, tally } from '../lib/measure.mjs';
import { cpuFor, pinLayout } from '../lib/pinning.mjs';
import { ROOT } from '../lib/processes.mjs';
import { REDIS_URL, removeKeys } from '../lib/redis.mjs';
import { fixed, machineLine, markdownTable, textTable } from '../lib/report.mjs';
import { startFabricSetup, startPeer } from '../lib/setups.mjs';

const CONCURRENCY = [1, 16, 64];
const TOOL = 'knowledge_search_nodes';
const SEED_TOOL = 'knowledge_create_entities';
// 300 entities with 3 observations each; every 30th speaks Esperanto, so the query matches 10.
const ENTITIES = 300;
const MATCH_EVERY = 30;
const QUERY = 'esperanto';
const SEED_BATCH = 100;
// At c=64 the cached fabric must make this multiple of the uncached one, and this share of the floor.
const GOAL = { overUncached: 5, overFloor: 0.6 };
// A load generator this busy (its one core) sets the pace: the row measures it, not the server.
const LOAD_BOUND_CORES = 0.9;
const HITS = 'fabric_cache_hits_total';
const MISSES = 'fabric_cache_misses_total';

const MODES = {
  // Warm-up counts calls: fresh processes need a few thousand before the JIT settles.
  default: { repetitions: 3, warmupCalls: 5_000, durationSec: 5 },
  quick: { repetitions: 2, warmupCalls: 1_500, durationSec: 1 },
};

function seedEntities() {
  return Array.from({ length: ENTITIES }, (_, i) => ({
    name: `person-${String(i + 1).padStart(3, '0')}`,
    entityType: 'person',
    observations: [
      `works on project ${i % 17}`,
      `lives in city ${i % 23}`,
      i % MATCH_EVERY === 0 ? 'speaks Esperanto' : `speaks language ${i % 7}`,
    ],
  }));
}

/**
 * Gateway + knowledge service on a SQLite file of their own (removed by `stop()`, with the namespace's
 * Redis keys), the cache on or off in both.
 */
async function startKnowledgeFabric({ cpuList, namespace, layout, cacheEnabled }) {
  const dir = mkdtempSync(path.join(tmpdir(), 'fabric-bench-knowledge-'));
  const cleanUp = async () => {
    rmSync(dir, { recursive: true, force: true });
    await removeKeys(`${namespace}:*`);
  };
  let started;
  try {
    started = await startFabricSetup({
      cpuList,
      namespace,
      layout,
      app: 'knowledge-service',
      service: 'knowledge',
      serviceEnv: { DATABASE_URL: `sqlite:${path.join(dir, 'knowledge.sqlite')}` },
      env: { CACHE_ENABLED: String(cacheEnabled), REDIS_URL },
    });
  } catch (error) {
    await cleanUp();
    throw error;
  }
  return { ...started, stop: () => started.stop().finally(cleanUp) };
}

/** Hits and misses of the gateway's cache so far, all levels and names summed; undefined without those metrics. */
async function cacheCounts(gatewayUrl) {
  const totals = await metricTotals(gatewayUrl, [HITS, MISSES]);
  if (totals[HITS] === undefined && totals[MISSES] === undefined) return undefined;
  return { hits: totals[HITS] ?? 0, misses: totals[MISSES] ?? 0 };
}

/** The cache's hit ratio over a window, from the counts at its edges. */
function hitRatioOver(before, after) {
  if (!before || !after) return { fields: { hitRatio: NaN, lookups: NaN }, text: ', hit ratio n/a' };
  const hits = after.hits - before.hits;
  const lookups = hits + after.misses - before.misses;
  const hitRatio = hits / lookups;
  return { fields: { hitRatio, lookups }, text: `, hit ratio ${ratioCell(hitRatio, lookups)}` };
}

function ratioCell(hitRatio, lookups) {
  if (Number.isFinite(hitRatio)) return `${fixed(hitRatio * 100, 1)} %`;
  return Number.isFinite(lookups) ? 'no lookups' : 'n/a';
}

/** What is compared; `reference` is the tool result the fabric returned first (the floor serves it). */
const SETUPS = [
  {
    name: 'fabric-cached',
    text: `MCP Fabric with its cache: gateway → NATS → knowledge service (1 replica each, nats-server included, SQLite), \`CACHE_ENABLED=true\`, Redis at ${REDIS_URL}`,
    fabric: true,
    start: (options) => startKnowledgeFabric({ ...options, cacheEnabled: true }),
  },
  {
    name: 'fabric-uncached',
    text: 'the same fabric with `CACHE_ENABLED=false`: every call goes to the service and its database',
    fabric: true,
    start: (options) => startKnowledgeFabric({ ...options, cacheEnabled: false }),
  },
  {
    name: 'node-http',
    text: 'the floor: plain `node:http` (`bench/peers/http-floor.mjs`) reading the body, parsing the JSON-RPC request and answering the same result, serialized once',
    fabric: false,
    start: ({ cpuList, reference }) =>
      startPeer({
        name: 'node-http',
        script: path.join(ROOT, 'bench/peers/http-floor.mjs'),
        env: { TOOL, RESULT: JSON.stringify(reference) },
        cpuList,
      }),
  },
];

/** Seeds the graph through the gateway and returns the search result (its first call: a miss when cached). */
async function seed(url, headers) {
  const entities = seedEntities();
  for (let i = 0; i < entities.length; i += SEED_BATCH) {
    await callTool(url, headers, SEED_TOOL, { entities: entities.slice(i, i + SEED_BATCH) }, 100 + i);
  }
  const result = await callTool(url, headers, TOOL, { query: QUERY }, 99);
  const found = result.structuredContent?.entities?.length;
  if (found !== ENTITIES / MATCH_EVERY)
    throw new Error(`${TOOL} found ${found} entities for "${QUERY}" instead of ${ENTITIES / MATCH_EVERY}`);
  return result;
}

/** One setup, fresh: seeded (the fabrics), warm-up, then each concurrency measured for the mode's duration. */
async function measureSetup({ rep, setup, mode, layout, load, namespace, reference, log }) {
  if (!setup.fabric && !reference.result)
    throw new Error(`${setup.name} needs the fabric's result: run a fabric first`);
  const started = await setup.start({
    cpuList: cpuFor(layout, 'servers'),
    namespace,
    layout,
    reference: reference.result,
  });
  try {
    const headers = await openSession(started.url);
    const tools = await listTools(started.url, headers);
    if (!tools.includes(TOOL)) throw new Error(`${setup.name} does not list ${TOOL}: ${tools.join(', ')}`);
    if (setup.fabric) {
      const result = await seed(started.url, headers);
      reference.result ??= result;
      if (resultText(result) !== resultText(reference.result))
        throw new Error(`${setup.name} answers ${TOOL} differently from the first fabric`);
    }
    const options = {
      url: started.url,
      headers,
      bodyTemplate: toolsCallTemplate(TOOL, { query: QUERY }),
      expectText: resultText(reference.result),
    };
    const probe = started.gateway && { read: () => cacheCounts(started.gateway.url), summarize: hitRatioOver };
    return await measureConcurrencies({
      rep,
      name: setup.name,
      started,
      options,
      concurrency: CONCURRENCY,
      mode,
      load,
      log,
      probe,
    });
  } finally {
    await started.stop();
  }
}

function verdictOf(rows, errors, firstError) {
  if (errors > 0)
    return { met: false, lines: [`NO RESULT: ${errors} call(s) failed validation (first: ${firstError})`] };
  const top = CONCURRENCY[CONCURRENCY.length - 1];
  const cached = row(rows, 'fabric-cached', top);
  const overUncached = cached.rps / row(rows, 'fabric-uncached', top).rps;
  const overFloor = cached.rps / row(rows, 'node-http', top).rps;
  const verdict = (ratio, goal, other) =>
    `at c=${top} the cached fabric makes ${fixed(ratio, 2)}x the throughput of ${other} (goal ≥ ${goal}x): ` +
    (ratio >= goal ? 'met' : 'NOT met');
  return {
    met: overUncached >= GOAL.overUncached && overFloor >= GOAL.overFloor,
    lines: [
      verdict(overUncached, GOAL.overUncached, 'the uncached one'),
      verdict(overFloor, GOAL.overFloor, 'the plain node:http floor'),
      `hit ratio of fabric-cached at c=${top}: ${ratioCell(cached.hitRatio, cached.lookups)}` +
        (Number.isFinite(cached.lookups) ? '' : ` (the gateway exports no ${HITS}/${MISSES})`),
    ],
  };
}

function render({ rows, verdict, noise, quick, mode, plan, layout, sample }) {
  const headers = [
    'setup',
    'c',
    'rps',
    'p50 ms',
    'p99 ms',
    'server CPU ms/call',
    'hit ratio',
    'errors',
    'rps per repetition',
  ];
  const main = rows.map((r) => [
    r.setup,
    String(r.connections),
    fixed(r.rps, 0),
    fixed(r.p50, 2),
    fixed(r.p99, 2),
    fixed(r.cpuPerCall, 3),
    ratioCell(r.hitRatio, r.lookups),
    String(r.errors),
    r.perRep.map((rps) => fixed(rps, 0)).join(' / '),
  ]);
  const top = CONCURRENCY[CONCURRENCY.length - 1];
  const ratioHeaders = ['fabric-cached / other', ...CONCURRENCY.map((c) => `rps c=${c}`), `CPU per call (c=${top})`];
  const ratios = ['fabric-uncached', 'node-http'].map((other) => [
    other,
    ...CONCURRENCY.map((c) => `${fixed(row(rows, 'fabric-cached', c).rps / row(rows, other, c).rps, 2)}x`),
    `${fixed(row(rows, 'fabric-cached', top).cpuPerCall / row(rows, other, top).cpuPerCall, 2)}x`,
  ]);
  const order = plan
    .filter((step) => step.rep < 2)
    .map((step) => step.setup.name)
    .join(' ');
  const bound = rows.filter((r) => r.loadCores >= LOAD_BOUND_CORES).map((r) => `${r.setup} c=${r.connections}`);
  const boundLine =
    bound.length === 0
      ? `the load generator stayed below ${LOAD_BOUND_CORES} core everywhere`
      : `the load generator used ${LOAD_BOUND_CORES} core or more at ${bound.join(', ')}: there the figure is its ceiling, not the server's`;
  const text = [
    textTable(headers, main),
    '',
    textTable(ratioHeaders, ratios),
    '',
    noise,
    boundLine,
    ...verdict.lines,
  ].join('\n');
  const suffix = quick ? '.quick' : '';
  const markdown = [
    '# Cache: a read-only tool cached, uncached, and the plain HTTP floor',
    '',
    `\`npm run bench -- --scenario cache${quick ? ' --quick' : ''}\`: tools/call of \`${TOOL}\` (\`{ "query": "${QUERY}" }\`) over a graph ` +
      `seeded through the gateway with ${ENTITIES} entities of 3 observations each, ${ENTITIES / MATCH_EVERY} of them matching ` +
      `(a ${sample.textBytes}-byte text, a ${sample.resultBytes}-byte result); one session per setup, closed loop, every response checked ` +
      '(HTTP status, JSON-RPC error, `isError`, the text equal to the first answer of the fabric); fresh processes, a fresh SQLite ' +
      'file and a fresh namespace for every setup and repetition.',
    '',
    SETUPS.map((s) => `- \`${s.name}\`: ${s.text}`).join('\n'),
    '',
    `- machine: ${machineLine()}`,
    `- mode: ${quick ? 'quick' : 'default'}: ${mode.repetitions} interleaved repetitions (${order} …), warm-up ${mode.warmupCalls} calls, ` +
      `${mode.durationSec} s measured per concurrency` +
      (quick ? ' (a smoke test: short windows, the JIT barely warm; trust the default mode)' : ''),
    `- pinning: ${layout.name} (${layout.text}); Redis is the machine's, unpinned, and its CPU is not counted`,
    '- server CPU: /proc utime + stime of every server-side process (for the fabric: gateway, service and nats-server) over the measured window, per call',
    `- hit ratio: \`${HITS}\` / (\`${HITS}\` + \`${MISSES}\`) of the gateway's \`/metrics\` (all labels summed) over the measured window; ` +
      'n/a where the gateway exports no such metrics, "no lookups" where they did not move',
    '',
    `![requests per second by setup and concurrency](cache${suffix}.svg)`,
    '',
    markdownTable(headers, main),
    '',
    'Ratios, fabric-cached over the others (medians):',
    '',
    markdownTable(ratioHeaders, ratios),
    '',
    ...verdict.lines.map((line) => `**${line}**\n`),
    `${noise}; ${boundLine}.`,
    '',
  ].join('\n');
  const svg = groupedBarChart({
    title: `tools/call ${TOOL}, requests per second (median of ${mode.repetitions})`,
    yLabel: 'requests per second',
    groups: CONCURRENCY.map((c) => `concurrency ${c}`),
    series: SETUPS.map((s) => ({ name: s.name, values: CONCURRENCY.map((c) => row(rows, s.name, c).rps) })),
  });
  return { text, markdown, artifacts: [{ file: `cache${suffix}.svg`, content: svg }] };
}

export const cache = {
  name: 'cache',
  summary: `tools/call ${TOOL} at concurrency ${CONCURRENCY.join('/')}: the fabric cached, uncached, and the node:http floor`,
  // Every server on CPU 1 (the fabric's nats-server too), the load generator alone on CPU 0.
  defaultPin: 'split',

  async run({ quick, pin, namespacePrefix, log }) {
    const mode = quick ? MODES.quick : MODES.default;
    const layout = pinLayout(pin ?? this.defaultPin);
    const plan = schedule(SETUPS, mode.repetitions);
    log(`cache: ${this.summary}`);
    log(
      `  ${mode.repetitions} repetitions, warm-up ${mode.warmupCalls} calls, ${mode.durationSec} s per concurrency; pinning: ${layout.name} (${layout.text})`,
    );
    const load = LoadGenerator.start({ cpuList: cpuFor(layout, 'load') });
    const reference = {};
    const measurements = [];
    try {
      for (const [index, step] of plan.entries()) {
        const namespace = `${namespacePrefix}c${index}`;
        measurements.push(...(await measureSetup({ ...step, mode, layout, load, namespace, reference, log })));
      }
    } finally {
      await load.stop();
    }
    const { errors, firstError, noise } = tally(measurements);
    const rows = aggregate(measurements, SETUPS, CONCURRENCY, { hitRatio: 'hitRatio', lookups: 'lookups' });
    const verdict = verdictOf(rows, errors, firstError);
    const sample = {
      textBytes: Buffer.byteLength(resultText(reference.result)),
      resultBytes: Buffer.byteLength(JSON.stringify(reference.result)),
    };
    const { text, markdown, artifacts } = render({ rows, verdict, noise, quick, mode, plan, layout, sample });
    log('');
    log(text);
    return { failed: errors > 0, markdown, artifacts };
  },

  /** Removes the Redis keys of every namespace of the run (each setup removes its own; this catches an interrupted one). */
  async cleanUp(namespacePrefix) {
    await removeKeys(`${namespacePrefix}*`);
  },
};
