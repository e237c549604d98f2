import { execFileSync, spawnSync } from 'node:child_process';
import {
  copyFileSync,
  existsSync,
  lstatSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  realpathSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { FsTree } from 'nx/src/generators/tree';
import { templateValues, type ServiceTemplateValues } from './generator';
import { unusedServiceName } from './testing/unused-service-name';
import { stripVTControlCharacters } from 'node:util';

const root = path.resolve(__dirname, '../../../../..');

/** A workspace tool that exited otherwise than expected, with what it printed. */
class ToolExitError extends Error {
  constructor(command: string[], status: number | null, output: string) {
    super(`\`${command.join(' ')}\` exited ${status}:\n${output}`);
    this.name = 'ToolExitError';
  }
}

/**
 * The workspace's files as git sees them (tracked and untracked, not ignored), so the copy holds the working
 * tree's templates and sources; node_modules is linked, not copied.
 */
function copyWorkspace(to: string): void {
  const listed = execFileSync('git', ['ls-files', '-z', '--cached', '--others', '--exclude-standard'], {
    cwd: root,
    encoding: 'utf8',
  });
  for (const file of new Set(listed.split('\0'))) {
    const from = path.join(root, file);
    if (file === '' || file === 'node_modules' || !existsSync(from) || !lstatSync(from).isFile()) continue;
    mkdirSync(path.dirname(path.join(to, file)), { recursive: true });
    copyFileSync(from, path.join(to, file));
  }
  symlinkSync(realpathSync(path.join(root, 'node_modules')), path.join(to, 'node_modules'), 'dir');
}

/** The package of each command-line tool run here. */
const TOOL_PACKAGES = { nx: 'nx', eslint: 'eslint', tsc: 'typescript', jest: 'jest' } as const;

/** The script of a tool's command, from its package's `bin`, as npm links it. */
function binOf(workspace: string, tool: keyof typeof TOOL_PACKAGES): string {
  const packageDir = path.join(workspace, 'node_modules', TOOL_PACKAGES[tool]);
  const { bin } = JSON.parse(readFileSync(path.join(packageDir, 'package.json'), 'utf8'));
  return path.join(packageDir, typeof bin === 'string' ? bin : bin[tool]);
}

/** The part of jest's `--json` report read here. */
interface JestReport {
  testResults: { name: string; assertionResults: { status: string }[] }[];
}

// `nx g @fabric/plugin:service` on a copy of this workspace, then what `npm test` runs (build, lint, typecheck,
// jest), on that copy. The copy lives outside the repository so its Nx, jest and git see only itself, and every
// cache of the tools run points into it, so removing it leaves nothing behind.
describe('a service from `nx g @fabric/plugin:service` passes the checks of `npm test`', () => {
  let copy: string;
  let service: ServiceTemplateValues;

  /** Runs a tool of the workspace in the copy; returns what it printed, throws unless it exits with `status`. */
  function run(
    tool: keyof typeof TOOL_PACKAGES,
    args: string[],
    options: { input?: string; status?: number } = {},
  ): string {
    const result = spawnSync(process.execPath, [binOf(copy, tool), ...args], {
      cwd: copy,
      input: options.input,
      encoding: 'utf8',
      timeout: 120_000,
      env: {
        ...process.env,
        NX_DAEMON: 'false',
        NX_NO_CLOUD: 'true',
        NX_TUI: 'false',
        FORCE_COLOR: '0',
        NX_CACHE_DIRECTORY: path.join(copy, '.nx/cache'),
        NX_WORKSPACE_DATA_DIRECTORY: path.join(copy, '.nx/workspace-data'),
      },
    });
    // Tools colour their output when they think a terminal or CI reads it: compare plain text.
    const output = stripVTControlCharacters(`${result.stdout}${result.stderr}${result.error ?? ''}`);
    if (result.status !== (options.status ?? 0)) throw new ToolExitError([tool, ...args], result.status, output);
    return output;
  }

  beforeAll(() => {
    copy = realpathSync(mkdtempSync(path.join(tmpdir(), 'fabric-generated-service-')));
    copyWorkspace(copy);
    // `orders` as in the README, unless this working tree has one already.
    service = templateValues({ name: unusedServiceName(new FsTree(copy, false), 'orders') });

    const generated = run('nx', ['g', '@fabric/plugin:service', '--name', service.serviceName]);
    expect(generated).toContain(`CREATE apps/${service.projectName}/src/app/${service.fileName}.tools.spec.ts`);
    // The boundary rule reads Nx's cached project graph: compute it with the new project in it.
    expect(run('nx', ['show', 'projects']).split('\n')).toContain(service.projectName);
  }, 60_000);

  afterAll(() => {
    if (copy) rmSync(copy, { recursive: true, force: true });
  });

  it('builds', () => {
    run('nx', ['run', `${service.projectName}:build`, '--skip-nx-cache']);
    expect(existsSync(path.join(copy, 'dist/apps', service.projectName, 'main.js'))).toBe(true);
  }, 60_000);

  it('lints clean, and the module boundaries of a service hold for it', () => {
    run('eslint', [`apps/${service.projectName}`]);

    const refused = run('eslint', ['--stdin', '--stdin-filename', `apps/${service.projectName}/src/probe.ts`], {
      input: "import { connect } from 'nats';\nexport const probe = connect;\n",
      status: 1,
    });
    expect(refused).toContain('@nx/enforce-module-boundaries');
  }, 60_000);

  it('type-checks with the compiler options of the workspace', () => {
    // Only the new project (and what it imports): the rest of the workspace is the same as before, and
    // `npm run typecheck` checks it anyway. Half the time of checking everything.
    const tsconfig = path.join(copy, 'tsconfig.generated.json');
    writeFileSync(
      tsconfig,
      JSON.stringify({ extends: './tsconfig.json', include: [`apps/${service.projectName}/**/*.ts`] }),
    );
    const checked = run('tsc', ['-p', tsconfig, '--noEmit', '--listFiles']);
    expect(checked).toContain(path.join(copy, `apps/${service.projectName}/src/app/${service.fileName}.tools.spec.ts`));
  }, 60_000);

  it('passes its generated spec, and the generator spec passes beside it', () => {
    const results = path.join(copy, 'jest-results.json');
    run('jest', [
      ...['--selectProjects', 'unit', '--cacheDirectory', path.join(copy, '.jest-cache')],
      ...['--json', '--outputFile', results],
      `apps/${service.projectName}`,
      'tools/fabric-plugin',
    ]);

    const report: JestReport = JSON.parse(readFileSync(results, 'utf8'));
    const statuses = Object.fromEntries(
      report.testResults.map((suite) => [
        path.relative(copy, suite.name),
        [...new Set(suite.assertionResults.map((test) => test.status))],
      ]),
    );
    expect(statuses).toEqual({
      [`apps/${service.projectName}/src/app/${service.fileName}.tools.spec.ts`]: ['passed'],
      'tools/fabric-plugin/src/generators/service/generator.spec.ts': ['passed'],
    });
  }, 60_000);
});
