// Peers: the fabric against single-process MCP servers with the same `echo` tool, tools/call at
// concurrency 1, 16 and 64 in one session, interleaved repetitions on fresh processes, every response checked.
import { groupedBarChart } from '../lib/chart.mjs';
import { LoadGenerator } from '../lib/load.mjs';
import { listTools, openSession, statelessHeaders, toolsCallTemplate } from '../lib/mcp.mjs';
import { aggregate, measureConcurrencies, row, schedule, tally } from '../lib/measure.mjs';
import { cpuFor, pinLayout } from '../lib/pinning.mjs';
import { fixed, machineLine, markdownTable, textTable } from '../lib/report.mjs';
import { SETUPS } from '../lib/setups.mjs';

const CONCURRENCY = [1, 16, 64];
const TEXT = 'hello from the bench';
// At c=64 the fabric must reach this multiple of the SDK's stateful server and beat every peer.
const GOAL = { against: 'sdk-stateful', ratio: 2.5, loggingRatio: 0.9, statelessRatio: 0.9 };

const MODES = {
  // Warm-up counts calls: fresh processes need a few thousand before the JIT settles.
  default: { repetitions: 3, warmupCalls: 5_000, durationSec: 5 },
  quick: { repetitions: 2, warmupCalls: 1_500, durationSec: 1 },
};

/** One setup, fresh: warm-up, then each concurrency measured for the mode's duration. */
async function measureSetup({ rep, setup, mode, layout, load, namespace, log }) {
  const started = await setup.start({ cpuList: cpuFor(layout, 'servers'), namespace, layout });
  try {
    // The stateless era (2026-07-28) opens no session: each call carries its envelope and headers.
    const headers = setup.stateless ? statelessHeaders(setup.tool) : await openSession(started.url);
    const tools = await listTools(started.url, headers, setup.stateless);
    if (!tools.includes(setup.tool)) throw new Error(`${setup.name} does not list ${setup.tool}: ${tools.join(', ')}`);
    const options = {
      url: started.url,
      headers,
      bodyTemplate: toolsCallTemplate(setup.tool, { text: TEXT }, setup.stateless),
      expectText: TEXT,
    };
    return await measureConcurrencies({
      rep,
      name: setup.name,
      started,
      options,
      concurrency: CONCURRENCY,
      mode,
      load,
      log,
    });
  } finally {
    await started.stop();
  }
}

function verdictOf(rows, errors, firstError) {
  if (errors > 0) return { met: false, text: `NO RESULT: ${errors} call(s) failed validation (first: ${firstError})` };
  const top = CONCURRENCY[CONCURRENCY.length - 1];
  const fabric = row(rows, 'fabric', top).rps;
  const against = fabric / row(rows, GOAL.against, top).rps;
  const behind = SETUPS.filter((s) => !s.name.startsWith('fabric') && row(rows, s.name, top).rps >= fabric).map(
    (s) => s.name,
  );
  // The default settings (access lines at LOG_LEVEL=info) must cost what the quiet ones cost, within 10 %.
  const logging = fabric / row(rows, 'fabric-warn', top).rps;
  // The stateless era's lean path must keep up with the session era's (issue 16: at least 0.9x at c=64).
  const stateless = row(rows, 'fabric-2026', top).rps / fabric;
  const met =
    against >= GOAL.ratio && behind.length === 0 && logging >= GOAL.loggingRatio && stateless >= GOAL.statelessRatio;
  return {
    met,
    text:
      `at c=${top} the fabric makes ${fixed(against, 2)}x the throughput of ${GOAL.against} (goal ≥ ${GOAL.ratio}x)` +
      (behind.length ? ` and is not ahead of ${behind.join(', ')}` : ' and is ahead of every peer') +
      `; at its defaults it makes ${fixed(logging, 2)}x its throughput at LOG_LEVEL=warn (goal ≥ ${GOAL.loggingRatio}x)` +
      `; on revision 2026-07-28 it makes ${fixed(stateless, 2)}x its 2025-11-25 throughput (goal ≥ ${GOAL.statelessRatio}x)` +
      `: ${met ? 'met' : 'NOT met'}`,
  };
}

function render({ rows, verdict, noise, quick, mode, plan, layout }) {
  const headers = ['setup', 'c', 'rps', 'p50 ms', 'p99 ms', 'server CPU ms/call', 'errors', 'rps per repetition'];
  const main = rows.map((r) => [
    r.setup,
    String(r.connections),
    fixed(r.rps, 0),
    fixed(r.p50, 2),
    fixed(r.p99, 2),
    fixed(r.cpuPerCall, 3),
    String(r.errors),
    r.perRep.map((rps) => fixed(rps, 0)).join(' / '),
  ]);
  const peers = SETUPS.filter((s) => s.name !== 'fabric');
  const ratioHeaders = ['fabric / peer', ...CONCURRENCY.map((c) => `rps c=${c}`), 'CPU per call (c=64)'];
  const top = CONCURRENCY[CONCURRENCY.length - 1];
  const ratios = peers.map((peer) => [
    peer.name,
    ...CONCURRENCY.map((c) => `${fixed(row(rows, 'fabric', c).rps / row(rows, peer.name, c).rps, 2)}x`),
    `${fixed(row(rows, 'fabric', top).cpuPerCall / row(rows, peer.name, top).cpuPerCall, 2)}x`,
  ]);
  const setupsText = SETUPS.map((s) => `- \`${s.name}\`: ${s.text}`).join('\n');
  const order = plan
    .filter((step) => step.rep < 2)
    .map((step) => step.setup.name)
    .join(' ');
  const text = [textTable(headers, main), '', textTable(ratioHeaders, ratios), '', noise, verdict.text].join('\n');
  const suffix = quick ? '.quick' : '';
  const markdown = [
    '# Peers: the fabric against single-process MCP servers',
    '',
    `\`npm run bench${quick ? ' -- --quick' : ''}\`: tools/call of an \`echo\` tool (\`{ "text": "${TEXT}" }\`, answered with the same text), ` +
      'one session per setup, closed loop (each connection sends its next call when the last is answered), every response checked ' +
      '(HTTP status, JSON-RPC error, `isError`, the echoed text); fresh processes for every setup and repetition.',
    '',
    setupsText,
    '',
    `- machine: ${machineLine()}`,
    `- mode: ${quick ? 'quick' : 'default'}: ${mode.repetitions} interleaved repetitions (${order} …), warm-up ${mode.warmupCalls} calls, ` +
      `${mode.durationSec} s measured per concurrency` +
      (quick ? ' (a smoke test: short windows, the JIT barely warm; trust the default mode)' : ''),
    `- pinning: ${layout.name} (${layout.text})`,
    '- server CPU: /proc utime + stime of every server-side process (for the fabric: gateway, service and nats-server) over the measured window, per call',
    '',
    `![requests per second by setup and concurrency](peers${suffix}.svg)`,
    '',
    markdownTable(headers, main),
    '',
    'Ratios, fabric over each peer (medians):',
    '',
    markdownTable(ratioHeaders, ratios),
    '',
    `**${verdict.text}**`,
    '',
    `${noise}.`,
    '',
  ].join('\n');
  const svg = groupedBarChart({
    title: `tools/call echo, requests per second (median of ${mode.repetitions})`,
    yLabel: 'requests per second',
    groups: CONCURRENCY.map((c) => `concurrency ${c}`),
    series: SETUPS.map((s) => ({ name: s.name, values: CONCURRENCY.map((c) => row(rows, s.name, c).rps) })),
  });
  return { text, markdown, artifacts: [{ file: `peers${suffix}.svg`, content: svg }] };
}

export const peers = {
  name: 'peers',
  summary: `tools/call echo at concurrency ${CONCURRENCY.join('/')}: the fabric against ${SETUPS.slice(1)
    .map((s) => s.name)
    .join(', ')}`,
  // Every server on CPU 1 (the fabric's nats-server too), the load generator alone on CPU 0.
  defaultPin: 'split',

  async run({ quick, pin, namespacePrefix, log }) {
    const mode = quick ? MODES.quick : MODES.default;
    const layout = pinLayout(pin ?? this.defaultPin);
    const plan = schedule(SETUPS, mode.repetitions);
    log(`peers: ${this.summary}`);
    log(
      `  ${mode.repetitions} repetitions, warm-up ${mode.warmupCalls} calls, ${mode.durationSec} s per concurrency; pinning: ${layout.name} (${layout.text})`,
    );
    const load = LoadGenerator.start({ cpuList: cpuFor(layout, 'load') });
    const measurements = [];
    try {
      for (const [index, step] of plan.entries()) {
        measurements.push(
          ...(await measureSetup({ ...step, mode, layout, load, namespace: `${namespacePrefix}p${index}`, log })),
        );
      }
    } finally {
      await load.stop();
    }
    const { errors, firstError, noise } = tally(measurements);
    const rows = aggregate(measurements, SETUPS, CONCURRENCY);
    const verdict = verdictOf(rows, errors, firstError);
    const { text, markdown, artifacts } = render({ rows, verdict, noise, quick, mode, plan, layout });
    log('');
    log(text);
    return { failed: errors > 0, markdown, artifacts };
  },
};
