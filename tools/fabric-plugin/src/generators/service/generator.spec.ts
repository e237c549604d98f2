import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import type { Tree } from '@nx/devkit';
import { createTreeWithEmptyWorkspace } from '@nx/devkit/testing';
import * as ts from 'typescript';
import { parse, parseAllDocuments } from 'yaml';
import { COMPOSE_FILE, InvalidServiceNameError, KUSTOMIZATION_FILE, serviceGenerator } from './generator';

const workspaceRoot = path.join(__dirname, '../../../../..');
const prettierCli = require.resolve('prettier/bin/prettier.cjs');

/** An empty workspace holding the repository's real compose file and kustomization. */
function workspace(): Tree {
  const tree = createTreeWithEmptyWorkspace();
  for (const file of [COMPOSE_FILE, KUSTOMIZATION_FILE]) {
    tree.write(file, readFileSync(path.join(workspaceRoot, file), 'utf8'));
  }
  return tree;
}

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
  it('creates apps/<name>-service in the shape of a service app', async () => {
    const tree = workspace();
    await serviceGenerator(tree, { name: 'orders', skipFormat: true });

    const project = JSON.parse(read(tree, 'apps/orders-service/project.json'));
    expect(project).toMatchObject({
      name: 'orders-service',
      projectType: 'application',
      sourceRoot: 'apps/orders-service/src',
      tags: ['type:app', 'scope:service'],
      targets: {
        build: {
          executor: 'nx:run-commands',
          options: { command: 'node tools/build/build-app.mjs orders-service' },
          outputs: ['{workspaceRoot}/dist/apps/orders-service'],
          cache: true,
        },
      },
    });
    expect(read(tree, 'apps/orders-service/src/main.ts')).toContain("service: 'orders',");
    expect(read(tree, 'apps/orders-service/src/main.ts')).toContain("title: 'Orders',");
    expect(read(tree, 'apps/orders-service/src/app/app.module.ts')).toContain('providers: [OrdersTools]');
    expect(read(tree, 'apps/orders-service/src/app/orders.tools.ts')).toContain('export class OrdersTools');
    expect(read(tree, 'apps/orders-service/src/app/orders.tools.spec.ts')).toContain("from './orders.tools'");
  });

  it('writes TypeScript that parses, with a description that needs escaping', async () => {
    const tree = workspace();
    await serviceGenerator(tree, { name: 'zz-probe', description: "Bob's \\ orders", skipFormat: true });

    const files = tree.listChanges().filter((change) => change.path.endsWith('.ts'));
    expect(files.map((file) => file.path).sort()).toEqual([
      'apps/zz-probe-service/src/app/app.module.ts',
      'apps/zz-probe-service/src/app/zz-probe.tools.spec.ts',
      'apps/zz-probe-service/src/app/zz-probe.tools.ts',
      'apps/zz-probe-service/src/main.ts',
    ]);
    for (const file of files) {
      const output = ts.transpileModule(read(tree, file.path), {
        reportDiagnostics: true,
        compilerOptions: { experimentalDecorators: true },
      });
      expect(output.diagnostics ?? []).toEqual([]);
    }
    expect(read(tree, 'apps/zz-probe-service/src/main.ts')).toContain("description: 'Bob\\'s \\\\ orders',");
    expect(read(tree, 'apps/zz-probe-service/src/app/zz-probe.tools.ts')).toContain('export class ZzProbeTools');
  });

  it('adds the service to docker/compose.yaml: 2 replicas, the shared env, no database', async () => {
    const tree = workspace();
    await serviceGenerator(tree, { name: 'orders', skipFormat: true });

    const services = composeServices(tree);
    const orders = services['orders-service'];
    expect(orders.image).toBe('mcp-fabric/orders-service:local');
    expect(orders.build?.args).toEqual({ APP: 'orders-service' });
    expect(orders.deploy?.replicas).toBe(2);
    expect(Object.keys(orders.environment ?? {}).sort()).toEqual(
      Object.keys(services['knowledge-service'].environment ?? {})
        .filter((key) => key !== 'DATABASE_URL')
        .sort(),
    );
    expect(Object.keys(orders.depends_on ?? {})).not.toContain('postgres');
    expect(Object.keys(services)).toEqual([...Object.keys(services)].sort((a, b) => a.localeCompare(b)));
  });

  it('writes deploy/k8s/base/<name>-service.yaml and lists it in the kustomization', async () => {
    const tree = workspace();
    await serviceGenerator(tree, { name: 'orders', skipFormat: true });

    const documents = parseAllDocuments(read(tree, 'deploy/k8s/base/orders-service.yaml')).map((doc) => doc.toJSON());
    expect(documents.map((doc) => `${doc.kind}/${doc.metadata.name}`)).toEqual([
      'Deployment/orders-service',
      'HorizontalPodAutoscaler/orders-service',
      'PodDisruptionBudget/orders-service',
    ]);
    const container = documents[0].spec.template.spec.containers[0];
    expect(container.image).toBe('mcp-fabric/orders-service:local');
    expect(container.readinessProbe.httpGet.path).toBe('/readyz');
    expect(container.livenessProbe.httpGet.path).toBe('/healthz');
    expect(parse(read(tree, KUSTOMIZATION_FILE)).resources).toContain('orders-service.yaml');
  });

  it('leaves the YAML it edits and writes in prettier style, so formatFiles changes nothing there', async () => {
    const tree = workspace();
    await serviceGenerator(tree, { name: 'orders', skipFormat: true });

    // The prettier CLI, as jest cannot load prettier 3's ESM API in-process (formatFiles then skips).
    for (const file of [COMPOSE_FILE, KUSTOMIZATION_FILE, 'deploy/k8s/base/orders-service.yaml']) {
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
    await serviceGenerator(tree, { name: 'orders', skipFormat: true });
    await expect(serviceGenerator(tree, { name: 'orders', skipFormat: true })).rejects.toThrow(
      /apps\/orders-service exists/,
    );
  });
});
