import { spawnSync } from 'node:child_process';
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';

const root = path.resolve(__dirname, '../..');
const validator = path.join(root, 'tools/scripts/validate-k8s.mjs');

function validate(deployDir: string, env: NodeJS.ProcessEnv = process.env): { status: number | null; output: string } {
  const result = spawnSync(process.execPath, [validator, deployDir], { cwd: root, encoding: 'utf8', env });
  return { status: result.status, output: `${result.stdout}${result.stderr}` };
}

// The Kubernetes files are checked offline against the Kubernetes schemas, each app's kustomization alone
// and the base with everything (tools/scripts/validate-k8s.mjs).
describe('Kubernetes manifests', () => {
  const copies: string[] = [];
  const copy = (): string => {
    const dir = mkdtempSync(path.join(tmpdir(), 'fabric-deploy-'));
    copies.push(dir);
    cpSync(path.join(root, 'deploy'), dir, { recursive: true });
    return dir;
  };

  afterAll(() => {
    for (const dir of copies) rmSync(dir, { recursive: true, force: true });
  });

  it('deploy/ renders and matches the schemas: the base, the environment and every app alone', () => {
    const { status, output } = validate(path.join(root, 'deploy'));
    expect(output).toContain('deploy/: no problems');
    expect(output).toMatch(/k8s\/apps\/gateway: \d+ objects/);
    expect(output).toMatch(/k8s\/apps\/knowledge-service: \d+ objects/);
    expect(status).toBe(0);
  });

  it('a manifest with a value of the wrong type fails, naming the field', () => {
    const dir = copy();
    const file = path.join(dir, 'k8s/apps/gateway/gateway.yaml');
    writeFileSync(file, readFileSync(file, 'utf8').replace(/containerPort: 3000/, 'containerPort: "three thousand"'));
    const { status, output } = validate(dir);
    expect(output).toMatch(/Deployment gateway: .*containerPort must be integer/);
    expect(status).toBe(1);
  });

  it('without kubectl the resource files are still validated', () => {
    const dir = copy();
    const file = path.join(dir, 'k8s/apps/knowledge-service/knowledge-service.yaml');
    writeFileSync(file, readFileSync(file, 'utf8').replace(/minReplicas: (\d+)/, 'minReplicas: "$1"'));
    // An empty PATH: the validator runs on this node by its absolute path, and finds no kubectl.
    const withoutKubectl = { ...process.env, PATH: mkdtempSync(path.join(tmpdir(), 'fabric-no-kubectl-')) };
    copies.push(withoutKubectl.PATH);
    const { status, output } = validate(dir, withoutKubectl);
    expect(output).toContain('kubectl not found');
    expect(output).toMatch(/HorizontalPodAutoscaler knowledge-service: .*minReplicas must be integer/);
    expect(status).toBe(1);
    expect(validate(path.join(root, 'deploy'), withoutKubectl).status).toBe(0);
  });
});
