// Validates the Kubernetes files offline: every kustomization under deploy/k8s (the base, the shared
// environment, each app alone) is rendered with `kubectl kustomize` (or, without kubectl, its resource
// files are read as they are), and every object is checked against the Kubernetes OpenAPI schemas of
// `kubernetes-models`; the NATS Helm values must describe a 3-server JetStream cluster.
//   node tools/scripts/validate-k8s.mjs [deploy dir]        exits non-zero on any problem
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, readFileSync, readdirSync, statSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse, parseAllDocuments } from 'yaml';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const deployDir = path.resolve(process.argv[2] ?? path.join(root, 'deploy'));
const k8sDir = path.join(deployDir, 'k8s');
const hasKubectl = spawnSync('kubectl', ['version', '--client'], { encoding: 'utf8' }).status === 0;
const problems = [];

/** Directories under deploy/k8s holding a kustomization.yaml. */
function kustomizations(dir) {
  const found = existsSync(path.join(dir, 'kustomization.yaml')) ? [dir] : [];
  for (const entry of readdirSync(dir)) {
    const child = path.join(dir, entry);
    if (statSync(child).isDirectory()) found.push(...kustomizations(child));
  }
  return found;
}

/** The objects a kustomization renders: by kubectl, or (without it) its resource files as they are. */
function render(dir) {
  if (hasKubectl) {
    const output = execFileSync('kubectl', ['kustomize', dir], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
    return parseAllDocuments(output).map((doc) => doc.toJS());
  }
  const kustomization = parse(readFileSync(path.join(dir, 'kustomization.yaml'), 'utf8'));
  const generated = (kustomization.configMapGenerator ?? []).map((generator) => ({
    apiVersion: 'v1',
    kind: 'ConfigMap',
    metadata: { name: generator.name },
    data: Object.fromEntries((generator.literals ?? []).map((literal) => literal.split(/=(.*)/s).slice(0, 2))),
  }));
  return generated.concat(
    (kustomization.resources ?? []).flatMap((resource) => {
      const target = path.join(dir, resource);
      if (!existsSync(target)) throw new Error(`resource ${resource} does not exist`);
      if (statSync(target).isDirectory()) return render(target);
      return parseAllDocuments(readFileSync(target, 'utf8'))
        .map((doc) => doc.toJS())
        .filter(Boolean);
    }),
  );
}

/** The schema class of an object's apiVersion and kind (`apps/v1` → kubernetes-models/apps/v1). */
async function modelOf(object) {
  const [group, version] = object.apiVersion.includes('/')
    ? object.apiVersion.split('/')
    : [undefined, object.apiVersion];
  const module = await import(`kubernetes-models/${group ? `${group}/` : ''}${version}`).catch(() => undefined);
  return module?.[object.kind];
}

for (const dir of kustomizations(k8sDir)) {
  const where = path.relative(deployDir, dir);
  let objects;
  try {
    objects = render(dir);
  } catch (error) {
    problems.push(`${where}: does not render: ${(error.stderr || error.message).toString().trim()}`);
    continue;
  }
  if (objects.length === 0) problems.push(`${where}: renders no object`);
  for (const object of objects) {
    const name = `${where}: ${object?.kind ?? '?'} ${object?.metadata?.name ?? '?'}`;
    const Model = object?.apiVersion && object.kind ? await modelOf(object) : undefined;
    if (!Model) {
      problems.push(`${name}: unknown apiVersion/kind ${object?.apiVersion}/${object?.kind}`);
      continue;
    }
    try {
      new Model(object).validate();
    } catch (error) {
      problems.push(`${name}: ${error.message}`);
    }
  }
  console.log(`${where}: ${objects.length} objects`);
}

const valuesFile = path.join(deployDir, 'helm/nats-values.yaml');
if (existsSync(valuesFile)) {
  const values = parse(readFileSync(valuesFile, 'utf8'));
  if (values?.config?.cluster?.enabled !== true || values.config.cluster.replicas !== 3)
    problems.push('helm/nats-values.yaml: config.cluster must be enabled with 3 replicas');
  if (values?.config?.jetstream?.enabled !== true)
    problems.push('helm/nats-values.yaml: config.jetstream must be enabled');
  console.log(`helm/nats-values.yaml: checked`);
} else {
  problems.push('helm/nats-values.yaml is missing');
}

if (!hasKubectl) console.log('(kubectl not found: resource files validated without kustomize rendering)');
for (const problem of problems) console.error(problem);
console.log(problems.length === 0 ? 'deploy/: no problems' : `deploy/: ${problems.length} problem(s)`);
process.exit(problems.length === 0 ? 0 : 1);
