// `npm run bench [-- options]`: runs the benchmark scenarios against the build output (npm run bench
// builds first) and writes each scenario's results as Markdown under bench/results/.
import { randomBytes } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { removeNamespaces } from './lib/fabric.mjs';
import { PIN_LAYOUTS } from './lib/pinning.mjs';
import { ROOT, killAll, killAllOnExit } from './lib/processes.mjs';
import { cache } from './scenarios/cache.mjs';
import { peers } from './scenarios/peers.mjs';
import { scaling } from './scenarios/scaling.mjs';
import { soak } from './scenarios/soak.mjs';

// A scenario is { name, summary, run({ quick, pin, namespacePrefix, log }) → { failed, markdown } }: it
// starts and kills its own processes, logs as it goes, and returns its report ({ failed, markdown,
// artifacts: [{ file, content }] }); `failed` means no result. An optional `cleanUp(namespacePrefix)`
// removes what the scenario keeps outside NATS (Redis keys), also after an interruption.
const SCENARIOS = [peers, soak, scaling, cache];
// What `npm run bench` runs without --scenario (or --soak).
const DEFAULT_SCENARIOS = ['peers'];
const RESULTS = path.join(ROOT, 'bench/results');
let interrupted = false;

const usage = `usage: npm run bench -- [--scenario NAME]... [--soak] [--quick] [--pin LAYOUT]

  --scenario NAME  run this scenario (repeatable; default: ${DEFAULT_SCENARIOS.join(', ')}):
${SCENARIOS.map((s) => `                     ${s.name.padEnd(8)} ${s.summary}`).join('\n')}
  --soak           the same as --scenario soak
  --quick          short and fewer repetitions, for a smoke test (results go to bench/results/NAME.quick.md)
  --pin LAYOUT     CPU pinning of load generator and servers, overriding the scenario's choice:
${Object.entries(PIN_LAYOUTS)
  .map(([name, layout]) => `                     ${name.padEnd(8)} ${layout.text}`)
  .join('\n')}`;

function options() {
  try {
    const { values } = parseArgs({
      options: {
        scenario: { type: 'string', multiple: true },
        quick: { type: 'boolean', default: false },
        soak: { type: 'boolean', default: false },
        pin: { type: 'string' },
        help: { type: 'boolean', short: 'h', default: false },
      },
    });
    if (values.help) {
      console.log(usage);
      process.exit(0);
    }
    const asked = [...(values.scenario ?? []), ...(values.soak ? ['soak'] : [])];
    const names = (asked.length > 0 ? asked : DEFAULT_SCENARIOS).flatMap((name) => name.split(','));
    const unknown = names.filter((name) => !SCENARIOS.some((s) => s.name === name));
    if (unknown.length > 0) throw new Error(`unknown scenario ${unknown.join(', ')}`);
    if (values.pin !== undefined && !PIN_LAYOUTS[values.pin]) throw new Error(`unknown pinning layout ${values.pin}`);
    return { scenarios: SCENARIOS.filter((s) => names.includes(s.name)), quick: values.quick, pin: values.pin };
  } catch (error) {
    console.error(`${error.message}\n\n${usage}`);
    process.exit(2);
  }
}

async function main() {
  const { scenarios, quick, pin } = options();
  killAllOnExit();
  // Every fabric of this run lives under this prefix (one namespace per measurement), removed at the end.
  const namespacePrefix = `bench${randomBytes(4).toString('hex')}`;
  let cleaned;
  const cleanUp = () =>
    (cleaned ??= killAll().then(() =>
      Promise.all([
        removeNamespaces(namespacePrefix).catch((error) =>
          console.error(`could not remove the NATS streams of ${namespacePrefix}: ${error.message}`),
        ),
        ...scenarios.map((scenario) =>
          scenario
            .cleanUp?.(namespacePrefix)
            .catch((error) =>
              console.error(`${scenario.name}: could not clean up after ${namespacePrefix}: ${error.message}`),
            ),
        ),
      ]),
    ));
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP']) {
    // Once: a second Ctrl-C ends the runner at once (the exit hook still kills the processes).
    process.once(signal, () => {
      interrupted = true;
      console.error(`\n${signal}: stopping the processes started by the benchmark`);
      cleanUp().finally(() => process.exit(130));
    });
  }
  const log = (line) => console.log(line);
  let failed = false;
  try {
    for (const scenario of scenarios) {
      const started = Date.now();
      const result = await scenario.run({ quick, pin, namespacePrefix, log });
      mkdirSync(RESULTS, { recursive: true });
      const file = path.join(RESULTS, `${scenario.name}${quick ? '.quick' : ''}.md`);
      writeFileSync(file, result.markdown);
      for (const artifact of result.artifacts ?? []) writeFileSync(path.join(RESULTS, artifact.file), artifact.content);
      log(
        `${scenario.name}: ${Math.round((Date.now() - started) / 1000)} s, written to ${path.relative(ROOT, file)}\n`,
      );
      failed ||= result.failed;
    }
  } finally {
    await cleanUp();
  }
  if (failed) {
    console.error('some calls failed validation: these benchmarks have no result');
    process.exitCode = 1;
  }
}

main().catch(async (error) => {
  // After Ctrl-C the scenario fails because its processes were killed: that is no news.
  if (!interrupted) console.error(error);
  await killAll();
  process.exit(interrupted ? 130 : 1);
});
