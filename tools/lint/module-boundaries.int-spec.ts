import { spawnSync } from 'node:child_process';
import path from 'node:path';

const root = path.resolve(__dirname, '../..');

/** Lints `code` as if it were the file `filePath` of the workspace; returns eslint's exit status and output. */
function lintAs(filePath: string, code: string): { status: number | null; output: string } {
  const result = spawnSync(
    process.execPath,
    [path.join(root, 'node_modules/eslint/bin/eslint.js'), '--stdin', '--stdin-filename', filePath],
    {
      cwd: root,
      input: code,
      encoding: 'utf8',
      env: { ...process.env, NX_DAEMON: 'false', NX_NO_CLOUD: 'true' },
    },
  );
  return { status: result.status, output: `${result.stdout}${result.stderr}` };
}

// The layering of STYLE.md is enforced by @nx/enforce-module-boundaries, which `npm run lint` runs in CI.
describe('module boundaries', () => {
  beforeAll(() => {
    // The rule reads Nx's cached project graph; computing it makes the spec independent of what ran before.
    const nx = spawnSync(process.execPath, [require.resolve('nx/bin/nx', { paths: [root] }), 'show', 'projects'], {
      cwd: root,
      encoding: 'utf8',
      env: { ...process.env, NX_DAEMON: 'false', NX_NO_CLOUD: 'true' },
    });
    expect(nx.status).toBe(0);
  }, 60_000);

  it('contracts may not depend on the service kit', () => {
    const { status, output } = lintAs(
      'libs/contracts/src/probe.ts',
      "import { McpTool } from '@fabric/service-kit';\nexport const probe = McpTool;\n",
    );
    expect(status).toBe(1);
    expect(output).toContain('@nx/enforce-module-boundaries');
  });

  it('the gateway may not depend on a service app or the service kit', () => {
    const { status, output } = lintAs(
      'apps/gateway/src/probe.ts',
      "import { bootstrapService } from '@fabric/service-kit';\nexport const probe = bootstrapService;\n",
    );
    expect(status).toBe(1);
    expect(output).toContain('@nx/enforce-module-boundaries');
  });

  it('a service may not import nats directly (only platform libs do)', () => {
    const { status, output } = lintAs(
      'apps/testbed-service/src/probe.ts',
      "import { connect } from 'nats';\nexport const probe = connect;\n",
    );
    expect(status).toBe(1);
    expect(output).toContain('nats');
  });

  it("only the gateway's protocol layer may use the SDK's server side", () => {
    const code = "import { Server } from '@modelcontextprotocol/sdk/server/index.js';\nexport const probe = Server;\n";
    const outside = lintAs('apps/gateway/src/app/operations/probe.ts', code);
    expect(outside.status).toBe(1);
    expect(outside.output).toContain('no-restricted-imports');
    const inside = lintAs('apps/gateway/src/app/protocol/session-2025/probe.ts', code);
    expect(inside.output).not.toContain('no-restricted-imports');
    expect(inside.status).toBe(0);
  });

  it('an allowed import passes', () => {
    const { status, output } = lintAs(
      'apps/gateway/src/probe.ts',
      "import { fabricSubjects } from '@fabric/contracts';\nexport const probe = fabricSubjects;\n",
    );
    expect(output).not.toContain('enforce-module-boundaries');
    expect(status).toBe(0);
  });
});
