import { spawn } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';

/** The official suite, pinned; it needs Node >= 22, which npx fetches as the `node` package. */
export const CONFORMANCE_PACKAGE = '@modelcontextprotocol/conformance@0.1.16';
/** The suite that knows revision 2026-07-28 (`--requirements <revision>`: the scenarios a revision requires). */
export const CONFORMANCE_NEXT_PACKAGE = '@modelcontextprotocol/conformance@0.2.0-alpha.12';

/** One check of a scenario as the suite writes it to `checks.json`; SUCCESS and FAILURE decide, the rest inform. */
export interface ConformanceCheck {
  id: string;
  name: string;
  description: string;
  status: 'SUCCESS' | 'FAILURE' | 'WARNING' | 'INFO' | 'SKIPPED';
  errorMessage?: string;
}

export interface ScenarioResult {
  scenario: string;
  /** Undefined when the scenario wrote no `checks.json` (it threw, or the run was killed during it). */
  checks?: ConformanceCheck[];
}

export interface SuiteRun {
  /** Scenario count the suite announced before running them, or undefined if it never got that far. */
  announced?: number;
  /** Every scenario the suite started, in order, with its checks. */
  scenarios: ScenarioResult[];
  exitCode: number | null;
  /** Whether the run exceeded its time limit and was killed. */
  timedOut: boolean;
  output: string;
}

/**
 * Runs the suite's server scenarios against `url` (a localhost URL: the DNS-rebinding scenario refuses
 * others) and reads the per-scenario `checks.json` files it writes under `outputDir`. The tool has no
 * timeout of its own and a hanging scenario waits 60 s, so past `timeoutMs` its whole process group dies.
 */
export async function runServerSuite(
  url: string,
  options: { outputDir: string; timeoutMs: number; suite?: string; pkg?: string; requirements?: string },
): Promise<SuiteRun> {
  const args = ['-y', '-p', 'node@22', '-p', options.pkg ?? CONFORMANCE_PACKAGE, 'conformance', 'server'];
  args.push('--url', url, '-o', options.outputDir);
  if (options.requirements) args.push('--requirements', options.requirements);
  else args.push('--suite', options.suite ?? 'active');
  // Its own process group, so that npx, the shell it starts and the suite's node die together.
  const child = spawn('npx', args, { detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
  const output: string[] = [];
  child.stdout.on('data', (chunk: Buffer) => output.push(chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => output.push(chunk.toString()));

  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    killGroup(child.pid);
  }, options.timeoutMs);
  const exitCode = await new Promise<number | null>((resolve) => {
    child.once('error', (error) => {
      output.push(`\nfailed to start npx: ${error.message}\n`);
      resolve(null);
    });
    child.once('close', (code) => resolve(code));
  }).finally(() => clearTimeout(timer));

  const text = output.join('');
  const announced = /Running .+? \((\d+) scenarios\)/.exec(text)?.[1];
  const started = [...text.matchAll(/^=== Running scenario: (\S+) ===$/gm)].map((match) => match[1]);
  const written = readResults(options.outputDir);
  return {
    announced: announced === undefined ? undefined : Number(announced),
    scenarios: started.map((scenario) => ({ scenario, checks: written.get(scenario) })),
    exitCode,
    timedOut,
    output: text,
  };
}

/** What makes the run fail: scenarios missing or without results, and every FAILURE check with its error. */
export function suiteProblems(
  run: SuiteRun,
  expectedScenarios: number,
  timeoutMs: number,
  notScored: ReadonlySet<string> = new Set(),
  /** Check ids known to fail for a reason the caller documents: reported in the table, not counted. */
  knownFailures: ReadonlySet<string> = new Set(),
): string[] {
  const problems: string[] = [];
  if (run.timedOut) {
    const last = run.scenarios.at(-1)?.scenario ?? 'before the first scenario';
    problems.push(`the suite exceeded ${timeoutMs / 1000} s and was killed (running: ${last})`);
  }
  if (run.announced !== expectedScenarios || run.scenarios.length !== expectedScenarios) {
    problems.push(
      `expected ${expectedScenarios} active scenarios; the suite announced ${run.announced ?? 'none'} and ran ${run.scenarios.length}`,
    );
  }
  for (const { scenario, checks } of run.scenarios) {
    if (notScored.has(scenario)) continue;
    if (!checks) {
      problems.push(`${scenario}: wrote no results (the scenario threw or was killed; see the suite's output)`);
      continue;
    }
    for (const check of checks.filter((c) => c.status === 'FAILURE' && !knownFailures.has(c.id))) {
      problems.push(`${scenario}: ${check.name} (${check.id}): ${check.errorMessage ?? check.description}`);
    }
  }
  // A requirements run exits non-zero for scored failures only; the unscored ones are reported, not counted.
  if (problems.length === 0 && run.exitCode !== 0 && knownFailures.size === 0) {
    problems.push(`the suite exited with ${run.exitCode} although no check failed:\n${run.output.slice(-3_000)}`);
  }
  return problems;
}

/** A compact table: one line per scenario with its passed, failed and warning checks. */
export function formatSuiteTable(run: SuiteRun): string {
  const width = Math.max(8, ...run.scenarios.map(({ scenario }) => scenario.length));
  const lines = [`  ${'scenario'.padEnd(width)}  passed  failed  warnings`];
  let failedScenarios = 0;
  for (const { scenario, checks } of run.scenarios) {
    const count = (status: ConformanceCheck['status']) => checks?.filter((c) => c.status === status).length ?? 0;
    const ok = checks !== undefined && count('FAILURE') === 0;
    if (!ok) failedScenarios++;
    const cells = checks
      ? [count('SUCCESS'), count('FAILURE'), count('WARNING')].map((n, i) => String(n).padStart(i === 2 ? 8 : 6))
      : ['no results'];
    lines.push(`${ok ? '✓' : '✗'} ${scenario.padEnd(width)}  ${cells.join('  ')}`);
  }
  const passed = run.scenarios.length - failedScenarios;
  lines.push(`${run.scenarios.length} scenarios: ${passed} passed, ${failedScenarios} failed`);
  return lines.join('\n');
}

/** `checks.json` of each scenario; the suite writes them to `<dir>/server-<scenario>-<ISO time with - for : and .>/`. */
function readResults(dir: string): Map<string, ConformanceCheck[]> {
  const results = new Map<string, ConformanceCheck[]>();
  if (!existsSync(dir)) return results;
  for (const entry of readdirSync(dir)) {
    const match = /^server-(.+)-\d{4}-\d{2}-\d{2}T[\d-]+Z$/.exec(entry);
    const file = path.join(dir, entry, 'checks.json');
    if (!match || !existsSync(file)) continue;
    results.set(match[1], JSON.parse(readFileSync(file, 'utf8')) as ConformanceCheck[]);
  }
  return results;
}

function killGroup(pid: number | undefined): void {
  if (pid === undefined) return;
  try {
    process.kill(-pid, 'SIGKILL');
  } catch {
    // The group is already gone.
  }
}
