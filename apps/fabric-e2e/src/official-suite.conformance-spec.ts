import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { CONFORMANCE_NEXT_PACKAGE, formatSuiteTable, runServerSuite, suiteProblems } from './support/conformance-suite';
import { Fabric } from './support/fabric';

/** Active server scenarios of the pinned suite: fewer means one was skipped silently. */
const ACTIVE_SCENARIOS = 30;
/**
 * Server scenarios the newer suite runs for each revision's requirements (scored ones and those it reports
 * without scoring, such as the tasks extension's).
 */
const REQUIRED_SCENARIOS = { '2026-07-28': 50, '2025-11-25': 33 } as const;
/**
 * Checks the gateway does not pass yet, each for a reason named here (none today). Remove entries as they
 * pass; anything else failing fails the run.
 */
const NOT_YET_SERVED = new Set<string>();
/** The suite's own hard limit; a fresh machine first downloads Node 22 through npx. */
const SUITE_TIMEOUT_MS = 200_000;

// The official MCP conformance suite against the whole fabric as clients meet it: two gateway replicas
// behind a round-robin proxy without stickiness, and two replicas of the service holding its fixtures.
describe('the official MCP conformance suite', () => {
  let fabric: Fabric;
  const outputDir = mkdtempSync(path.join(tmpdir(), 'mcp-conformance-'));
  let keepOutput = false;

  beforeAll(async () => {
    fabric = await Fabric.start({
      gateways: 2,
      services: [{ app: 'conformance-service', replicas: 2 }],
      gatewayEnv: { TOOL_NAME_PREFIX: 'false' },
    });
    const { client } = await fabric.connect();
    await fabric.waitForTool(client, 'test_simple_text');
  }, 60_000);

  afterAll(async () => {
    await fabric?.stop();
    if (!keepOutput) rmSync(outputDir, { recursive: true, force: true });
  });

  it('every active server scenario passes through two gateways behind a round-robin proxy', async () => {
    const run = await runServerSuite(fabric.mcpUrl, { outputDir, timeoutMs: SUITE_TIMEOUT_MS });
    console.log(`MCP conformance suite against ${fabric.mcpUrl}\n${formatSuiteTable(run)}`);
    expect(check(suiteProblems(run, ACTIVE_SCENARIOS, SUITE_TIMEOUT_MS))).toEqual([]);
  }, 240_000);

  it.each(Object.entries(REQUIRED_SCENARIOS))(
    'every scored scenario the %s requirements name passes, both eras on one endpoint',
    async (revision, scenarios) => {
      const run = await runServerSuite(fabric.mcpUrl, {
        outputDir,
        timeoutMs: SUITE_TIMEOUT_MS,
        pkg: CONFORMANCE_NEXT_PACKAGE,
        requirements: revision,
      });
      console.log(`MCP conformance suite, ${revision} requirements\n${formatSuiteTable(run)}`);
      const problems = suiteProblems(run, scenarios, SUITE_TIMEOUT_MS, notScored(run.output), NOT_YET_SERVED);
      expect(check(problems)).toEqual([]);
    },
    240_000,
  );

  /** Adds the replicas' share to a run's problems, and keeps the suite's output when there are any. */
  function check(problems: string[]): string[] {
    const served = fabric.gateways.map((gateway) => fabric.proxy?.served.get(gateway.url) ?? 0);
    if (served.some((requests) => requests === 0)) problems.push(`a gateway replica served no request: ${served}`);
    if (problems.length > 0) {
      keepOutput = true;
      problems.push(`(checks.json of every scenario kept in ${outputDir})`);
    }
    return problems;
  }
});

/** The scenarios a requirements run reports as not scored (extensions, pending): their failures do not count. */
function notScored(output: string): Set<string> {
  const section = output.split(/^Not scored for /m)[1] ?? '';
  return new Set([...section.matchAll(/^\s+[✓✗] (\S+) \(/gm)].map((match) => match[1]));
}
