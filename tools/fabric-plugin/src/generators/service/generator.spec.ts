import { execFileSync } from 'node:child_process';
import * as path from 'node:path';
import type { Tree } from '@nx/devkit';
import { FsTree } from 'nx/src/generators/tree';
import * as ts from 'typescript';
import { parse, parseAllDocuments } from 'yaml';
import {
  COMPOSE_FILE,
  InvalidServiceNameError,
  KUSTOMIZATION_FILE,
  PROMETHEUS_FILE,
  serviceGenerator,
  templateValues,
} from './generator';
import { unusedServiceName } from './testing/unused-service-name';

const workspaceRoot = path.join(__dirname, '../../../../..');
const prettierCli = require.resolve('prettier/bin/prettier.cjs');

/**
 * The repository as it is, in memory: the generator reads its real files, its writes stay in the tree (never
 * flushed, as with `nx g --dry-run`). Not the devkit's empty '/virtual' tree: Nx globs a tree's root for
 * projects, which logs "workspace root does not exist" there (and can hang on a near-empty directory).
 */
function workspace(): Tree {
  return new FsTree(workspaceRoot, false);
}

/** The README's example, `orders`, or a free variant once `nx g @fabric/plugin:service --name orders` has run here. */
const orders = templateValues({ name: unusedServiceName(workspace(), 'orders') });

function read(tree: Tree, file: string): string {
  const content = tree.read(file, 'utf-8');
  if (content === null) throw new Error(`${file} was not written`);
  return content;
}

interface ComposeService {
  image?: string;
  build?: { args?: Record<string, string> };
  environment?: Record<string, unknown>;
  depends_on?: Record<string, unknown>;
  deploy?: { replicas?: number };
}

function composeServices(tree: Tree): Record<string, ComposeService> {
  return parse(read(tree, COMPOSE_FILE), { merge: true }).services;
}

describe('service generator', () => {
  it('derives every name from --name', () => {
    expect(templateValues({ name: 'order-lines' })).toEqual({
      serviceName: 'order-lines',
      projectName: 'order-lines-service',
      fileName: 'order-lines',
      className: 'OrderLines',
      title: 'Order Lines',
      descriptionLiteral: "'Tools of the order-lines domain.'",
    });
  });

  it('creates apps/<name>-service in the shape of a service app', async () => {
    const tree = workspace();
    await serviceGenerator(tree, { name: orders.serviceName, skipFormat: true });

    const app = `apps/${orders.projectName}`;
    const project = JSON.parse(read(tree, `${app}/project.json`));
    expect(project).toMatchObject({
      name: orders.projectName,
      projectType: 'application',
      sourceRoot: `${app}/src`,
      tags: ['type:app', 'scope:service'],
      targets: {
        build: {
          executor: 'nx:run-commands',
          options: { command: `node tools/build/build-app.mjs ${orders.projectName}` },
          outputs: [`{workspaceRoot}/dist/${app}`],
          cache: true,
        },
      },
    });
    expect(read(tree, `${app}/src/main.ts`)).toContain(`service: '${orders.serviceName}',`);
    expect(read(tree, `${app}/src/main.ts`)).toContain(`title: '${orders.title}',`);
    expect(read(tree, `${app}/src/app/app.module.ts`)).toContain(`providers: [${orders.className}Tools]`);
    expect(read(tree, `${app}/src/app/${orders.fileName}.tools.ts`)).toContain(`export class ${orders.className}Tools`);
    expect(read(tree, `${app}/src/app/${orders.fileName}.tools.spec.ts`)).toContain(
      `from './${orders.fileName}.tools'`,
    );
  });

  it('writes TypeScript that parses, with a description that needs escaping', async () => {
    const tree = workspace();
    const probe = templateValues({ name: unusedServiceName(tree, 'zz-probe') });
    await serviceGenerator(tree, { name: probe.serviceName, description: "Bob's \\ orders", skipFormat: true });

    const app = `apps/${probe.projectName}`;
    const files = tree.listChanges().filter((change) => change.path.endsWith('.ts'));
    expect(files.map((file) => file.path).sort()).toEqual([
      `${app}/src/app/app.module.ts`,
      `${app}/src/app/${probe.fileName}.tools.spec.ts`,
      `${app}/src/app/${probe.fileName}.tools.ts`,
      `${app}/src/main.ts`,
    ]);
    for (const file of files) {
      const output = ts.transpileModule(read(tree, file.path), {
        reportDiagnostics: true,
        compilerOptions: { experimentalDecorators: true },
      });
      expect(output.diagnostics ?? []).toEqual([]);
    }
    expect(read(tree, `${app}/src/main.ts`)).toContain("description: 'Bob\\'s \\\\ orders',");
  });

  it('adds the service to docker/compose.yaml: 2 replicas, the shared env, no database', async () => {
    const tree = workspace();
    await serviceGenerator(tree, { name: orders.serviceName, skipFormat: true });

    const services = composeServices(tree);
    const service = services[orders.projectName];
    expect(service.image).toBe(`mcp-fabric/${orders.projectName}:local`);
    expect(service.build?.args).toEqual({ APP: orders.projectName });
    expect(service.deploy?.replicas).toBe(2);
    expect(Object.keys(service.environment ?? {}).sort()).toEqual(
      Object.keys(services['knowledge-service'].environment ?? {})
        .filter((key) => key !== 'DATABASE_URL')
        .sort(),
    );
    expect(Object.keys(service.depends_on ?? {})).not.toContain('postgres');
    expect(Object.keys(services)).toEqual([...Object.keys(services)].sort((a, b) => a.localeCompare(b)));
  });

  it('adds a Prometheus scrape job named after the service for every container of the app', async () => {
    const tree = workspace();
    await serviceGenerator(tree, { name: orders.serviceName, skipFormat: true });

    const jobs: { job_name: string; dns_sd_configs: { names: string[]; port: number }[] }[] = parse(
      read(tree, PROMETHEUS_FILE),
    ).scrape_configs;
    expect(jobs.find((job) => job.job_name === orders.serviceName)?.dns_sd_configs).toEqual([
      { names: [orders.projectName], type: 'A', port: 3000 },
    ]);
    expect(jobs.map((job) => job.job_name)).toEqual(expect.arrayContaining(['gateway', 'knowledge']));
  });

  it('writes deploy/k8s/apps/<name>-service (a kustomization of its own) and lists it in the base', async () => {
    const tree = workspace();
    await serviceGenerator(tree, { name: orders.serviceName, skipFormat: true });

    const manifest = read(tree, `deploy/k8s/apps/${orders.projectName}/${orders.projectName}.yaml`);
    const documents = parseAllDocuments(manifest).map((doc) => doc.toJSON());
    expect(documents.map((doc) => `${doc.kind}/${doc.metadata.name}`)).toEqual([
      `Deployment/${orders.projectName}`,
      `HorizontalPodAutoscaler/${orders.projectName}`,
      `PodDisruptionBudget/${orders.projectName}`,
    ]);
    const container = documents[0].spec.template.spec.containers[0];
    expect(container.image).toBe(`mcp-fabric/${orders.projectName}:local`);
    expect(container.readinessProbe.httpGet.path).toBe('/readyz');
    expect(container.livenessProbe.httpGet.path).toBe('/healthz');
    expect(parse(read(tree, KUSTOMIZATION_FILE)).resources).toContain(`../apps/${orders.projectName}`);
    const own = parse(read(tree, `deploy/k8s/apps/${orders.projectName}/kustomization.yaml`));
    expect(own).toMatchObject({
      namespace: 'mcp-fabric',
      resources: [`${orders.projectName}.yaml`],
      images: [{ name: `mcp-fabric/${orders.projectName}` }],
    });
  });

  it('leaves the YAML it edits and writes in prettier style, so formatFiles changes nothing there', async () => {
    const tree = workspace();
    await serviceGenerator(tree, { name: orders.serviceName, skipFormat: true });

    // The prettier CLI, as jest cannot load prettier 3's ESM API in-process (formatFiles then skips).
    for (const file of [
      COMPOSE_FILE,
      KUSTOMIZATION_FILE,
      `deploy/k8s/apps/${orders.projectName}/${orders.projectName}.yaml`,
      `deploy/k8s/apps/${orders.projectName}/kustomization.yaml`,
    ]) {
      const source = read(tree, file);
      const formatted = execFileSync(process.execPath, [prettierCli, '--stdin-filepath', file], { input: source });
      expect(formatted.toString()).toBe(source);
    }
  });

  it.each([
    ['an uppercase letter', 'Orders'],
    ['the -service suffix', 'orders-service'],
    ['a leading digit', '1orders'],
    ['an underscore', 'order_lines'],
    ['a trailing dash', 'orders-'],
    ['an empty name', ''],
    ['a name too long for a Kubernetes label', 'a'.repeat(56)],
  ])('rejects a name with %s', async (_reason, name) => {
    const tree = workspace();
    await expect(serviceGenerator(tree, { name })).rejects.toThrow(InvalidServiceNameError);
    expect(tree.exists(`apps/${name}-service`)).toBe(false);
  });

  it('rejects a service that exists already', async () => {
    const tree = workspace();
    await expect(serviceGenerator(tree, { name: 'knowledge', skipFormat: true })).rejects.toThrow(
      /docker\/compose.yaml already has a "knowledge-service" service/,
    );
    await serviceGenerator(tree, { name: orders.serviceName, skipFormat: true });
    await expect(serviceGenerator(tree, { name: orders.serviceName, skipFormat: true })).rejects.toThrow(
      `apps/${orders.projectName} exists`,
    );
  });
});
