import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { formatSuiteTable, runServerSuite, suiteProblems } from './support/conformance-suite';
import { Fabric } from './support/fabric';

/** Active server scenarios of the pinned suite: fewer means one was skipped silently. */
const ACTIVE_SCENARIOS = 30;
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
    const problems = suiteProblems(run, ACTIVE_SCENARIOS, SUITE_TIMEOUT_MS);
    const served = fabric.gateways.map((gateway) => fabric.proxy?.served.get(gateway.url) ?? 0);
    if (served.some((requests) => requests === 0)) problems.push(`a gateway replica served no request: ${served}`);
    keepOutput = problems.length > 0;
    if (keepOutput) problems.push(`(checks.json of every scenario kept in ${outputDir})`);
    expect(problems).toEqual([]);
  }, 240_000);
});
