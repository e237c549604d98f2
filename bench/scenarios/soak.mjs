// Soak: 200,000 tools/call in one session through the fabric, resident memory of the gateway and the
// service sampled as it goes; memory must stay flat once warm (growth under 10%). Resident memory moves
// by tens of MB with every garbage collection, so start and end are each the median of several samples.
import { LoadGenerator } from '../lib/load.mjs';
import { listTools, openSession, toolsCallTemplate } from '../lib/mcp.mjs';
import { cpuFor, pinLayout } from '../lib/pinning.mjs';
import { fixed, machineLine, markdownTable, textTable } from '../lib/report.mjs';
import { startFabricSetup } from '../lib/setups.mjs';
import { median } from '../lib/stats.mjs';

const TEXT = 'hello from the soak';
const CONNECTIONS = 64;
const GOAL = 0.1;
// `window`: samples whose median is the start (the first ones) and the end (the last ones).
const MODES = {
  default: { warmupCalls: 40_000, calls: 200_000, chunks: 20, window: 5 },
  quick: { warmupCalls: 5_000, calls: 40_000, chunks: 8, window: 3 },
};

const mb = (bytes) => fixed(bytes / 2 ** 20, 1);

export const soak = {
  name: 'soak',
  summary: `${MODES.default.calls.toLocaleString('en')} tools/call in one session through the fabric, resident memory start and end`,
  defaultPin: 'split',

  async run({ quick, pin, namespacePrefix, log }) {
    const mode = quick ? MODES.quick : MODES.default;
    const layout = pinLayout(pin ?? this.defaultPin);
    log(
      `soak: ${mode.calls} calls at c=${CONNECTIONS} after ${mode.warmupCalls} warm-up calls; pinning: ${layout.name}`,
    );
    const fabric = await startFabricSetup({
      cpuList: cpuFor(layout, 'servers'),
      namespace: `${namespacePrefix}soak`,
      layout,
    });
    const load = LoadGenerator.start({ cpuList: cpuFor(layout, 'load') });
    const samples = [];
    let errors = 0;
    let firstError;
    try {
      const headers = await openSession(fabric.url);
      if (!(await listTools(fabric.url, headers)).includes('bench_echo'))
        throw new Error('the gateway does not list bench_echo');
      const options = {
        url: fabric.url,
        headers,
        connections: CONNECTIONS,
        bodyTemplate: toolsCallTemplate('bench_echo', { text: TEXT }),
        expectText: TEXT,
      };
      const sample = (calls, rps) => {
        const row = {
          calls,
          rps,
          gateway: fabric.gateway.rssBytes(),
          service: fabric.service.rssBytes(),
          nats: fabric.nats.rssBytes(),
        };
        samples.push(row);
        log(
          `  ${String(calls).padStart(7)} calls: gateway ${mb(row.gateway)} MB, service ${mb(row.service)} MB, nats-server ${mb(row.nats)} MB` +
            (Number.isFinite(rps) ? `, ${fixed(rps, 0)} calls/s` : ''),
        );
      };
      const warmup = await load.run({ ...options, amount: mode.warmupCalls });
      errors += warmup.errorCount;
      firstError ??= warmup.firstError;
      sample(0, NaN);
      const chunk = mode.calls / mode.chunks;
      for (let i = 1; i <= mode.chunks; i++) {
        const result = await load.run({ ...options, amount: chunk });
        errors += result.errorCount;
        firstError ??= result.firstError;
        sample(i * chunk, result.rps);
      }
    } finally {
      await load.stop();
      await fabric.stop();
    }

    const typical = (rows, key) => median(rows.map((row) => row[key]));
    const [first, last] = [samples.slice(0, mode.window), samples.slice(-mode.window)];
    const start = { gateway: typical(first, 'gateway'), service: typical(first, 'service') };
    const end = { gateway: typical(last, 'gateway'), service: typical(last, 'service') };
    const growth = { gateway: end.gateway / start.gateway - 1, service: end.service / start.service - 1 };
    const verdict =
      errors > 0
        ? `NO RESULT: ${errors} call(s) failed validation (first: ${firstError})`
        : `resident memory, start → end (medians of ${mode.window} samples): gateway ${mb(start.gateway)} → ${mb(end.gateway)} MB ` +
          `(${fixed(growth.gateway * 100, 1)}%), service ${mb(start.service)} → ${mb(end.service)} MB (${fixed(growth.service * 100, 1)}%) ` +
          `(goal < ${GOAL * 100}%): ${growth.gateway < GOAL && growth.service < GOAL ? 'met' : 'NOT met'}`;
    const headersRow = [
      'calls after warm-up',
      'gateway RSS MB',
      'service RSS MB',
      'nats-server RSS MB',
      'calls/s (chunk)',
    ];
    const rows = samples.map((s) => [String(s.calls), mb(s.gateway), mb(s.service), mb(s.nats), fixed(s.rps, 0)]);
    log('');
    log(textTable(headersRow, rows));
    log(verdict);
    const markdown = [
      '# Soak: memory over 200,000 calls in one session',
      '',
      `\`npm run bench -- --soak${quick ? ' --quick' : ''}\`: tools/call of \`bench_echo\` through one gateway, one service replica and a private nats-server, ` +
        `${CONNECTIONS} connections in one MCP session, every response checked; resident memory (VmRSS) read after the warm-up and after every ${(mode.calls / mode.chunks).toLocaleString('en')} calls; ` +
        `start and end are the medians of the first and the last ${mode.window} samples (a garbage collection moves RSS by tens of MB).`,
      '',
      `- machine: ${machineLine()}`,
      `- mode: ${quick ? 'quick (a smoke test)' : 'default'}: ${mode.warmupCalls} warm-up calls, then ${mode.calls} calls`,
      `- pinning: ${layout.name} (${layout.text})`,
      '',
      markdownTable(headersRow, rows),
      '',
      `**${verdict}**`,
      '',
    ].join('\n');
    return { failed: errors > 0, markdown };
  },
};
