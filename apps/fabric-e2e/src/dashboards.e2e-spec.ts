import { mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { parse } from 'yaml';
import { Fabric } from './support/fabric';
import { ROOT } from './support/processes';

interface Dashboard {
  uid: string;
  panels: { title: string; targets: { expr: string }[] }[];
  templating: { list: { name: string; definition?: string }[] };
}

/** Metric families of one `/metrics` exposition: name → the label names its samples carry. */
async function families(baseUrl: string): Promise<Map<string, Set<string>>> {
  const text = await (await fetch(`${baseUrl}/metrics`)).text();
  const found = new Map<string, Set<string>>();
  for (const line of text.split('\n')) {
    const type = /^# TYPE (\S+) (\S+)/.exec(line);
    if (type) {
      const names = type[2] === 'histogram' ? ['_bucket', '_sum', '_count'].map((s) => type[1] + s) : [type[1]];
      for (const name of names) if (!found.has(name)) found.set(name, new Set());
      continue;
    }
    const sample = /^([a-zA-Z_:][\w:]*)\{([^}]*)\}/.exec(line);
    if (sample) for (const [, label] of sample[2].matchAll(/(\w+)="/g)) found.get(sample[1])?.add(label);
  }
  return found;
}

/** Labels Prometheus adds at scrape time, and the histogram bucket bound. */
const SCRAPE_LABELS = new Set(['job', 'instance', 'le']);

// Every metric a shipped Grafana dashboard queries exists on the apps' /metrics, with the labels it groups
// and filters by; and the Prometheus config scrapes the apps the dashboards name.
describe('shipped dashboards and the metrics table', () => {
  let fabric: Fabric;
  const dataDir = mkdtempSync(path.join(tmpdir(), 'fabric-metrics-'));
  const dir = path.join(ROOT, 'docker/grafana/dashboards');
  const dashboards: Dashboard[] = readdirSync(dir)
    .filter((file) => file.endsWith('.json'))
    .map((file) => JSON.parse(readFileSync(path.join(dir, file), 'utf8')));

  beforeAll(async () => {
    fabric = await Fabric.start({
      services: [
        { app: 'testbed-service' },
        { app: 'audit-service', env: { DATABASE_URL: `sqlite:${path.join(dataDir, 'audit.sqlite')}` } },
      ],
    });
    // One call of each kind, so that the labelled series the panels group by have samples.
    const { client } = await fabric.connect();
    await fabric.waitForTool(client, 'testbed_echo');
    await client.callTool({ name: 'testbed_echo', arguments: { text: 'x' } });
    await client.callTool({ name: 'testbed_cached_stamp', arguments: { key: 'dashboards' } });
    await client.callTool({ name: 'testbed_cached_stamp', arguments: { key: 'dashboards' } });
  });

  afterAll(async () => {
    await fabric?.stop();
    rmSync(dataDir, { recursive: true, force: true });
  });

  it('ships the fleet and the per-service dashboard, each panel with a query', () => {
    expect(dashboards.map((dashboard) => dashboard.uid).sort()).toEqual(['fabric-fleet', 'fabric-service']);
    for (const dashboard of dashboards) {
      expect(dashboard.panels.length).toBeGreaterThan(0);
      for (const panel of dashboard.panels) expect(panel.targets.length).toBeGreaterThan(0);
    }
  });

  it('queries only metrics the gateway and a service expose, grouped by labels they carry', async () => {
    const exposed = new Map<string, Set<string>>();
    for (const app of [fabric.gateways[0], fabric.processes[0]]) {
      for (const [name, labels] of await families(app.url)) {
        const known = exposed.get(name) ?? new Set<string>();
        for (const label of labels) known.add(label);
        exposed.set(name, known);
      }
    }
    const problems: string[] = [];
    const queries = dashboards.flatMap((dashboard) => [
      ...dashboard.panels.flatMap((panel) =>
        panel.targets.map((target) => ({ where: panel.title, expr: target.expr })),
      ),
      ...dashboard.templating.list.map((variable) => ({ where: `$${variable.name}`, expr: variable.definition ?? '' })),
    ]);
    for (const { where, expr } of queries) {
      const metrics = [...expr.matchAll(/\b((?:fabric|process)_\w+)/g)].map((match) => match[1]);
      for (const metric of metrics) {
        const labels = exposed.get(metric);
        if (!labels) {
          problems.push(`${where}: ${metric} is not exposed`);
          continue;
        }
        // Labels of `by (...)` and of `{label=...}` selectors; checked where the metric has samples.
        const used = [
          ...[...expr.matchAll(/by \(([^)]*)\)/g)].flatMap((match) => match[1].split(',').map((l) => l.trim())),
          ...[...expr.matchAll(new RegExp(`${metric}\\{([^}]*)\\}`, 'g'))].flatMap((match) =>
            [...match[1].matchAll(/(\w+)\s*[!=~]/g)].map((m) => m[1]),
          ),
        ];
        if (labels.size === 0) continue;
        for (const label of used) {
          if (!SCRAPE_LABELS.has(label) && !labels.has(label))
            problems.push(`${where}: ${metric} has no label ${label}`);
        }
      }
      expect(metrics.length + (expr.includes('up{') ? 1 : 0)).toBeGreaterThan(0);
    }
    expect(problems).toEqual([]);
  });

  it("documents in the README's metrics table exactly the fabric metrics the apps expose", async () => {
    const exposed = new Set<string>();
    for (const app of [...fabric.gateways, ...fabric.processes]) {
      const text = await (await fetch(`${app.url}/metrics`)).text();
      for (const [, name] of text.matchAll(/^# TYPE (fabric_\w+) /gm)) exposed.add(name);
    }
    const readme = readFileSync(path.join(ROOT, 'README.md'), 'utf8');
    const section = readme.slice(readme.indexOf('## Metrics'), readme.indexOf('## Errors clients see'));
    const documented = new Set([...section.matchAll(/^\| `(fabric_\w+)`/gm)].map((match) => match[1]));
    expect([...exposed].filter((name) => !documented.has(name))).toEqual([]);
    expect([...documented].filter((name) => !exposed.has(name))).toEqual([]);
  });

  it('has Prometheus scrape the gateway and the knowledge service, the jobs the dashboards select by', () => {
    const config = parse(readFileSync(path.join(ROOT, 'docker/prometheus/prometheus.yml'), 'utf8'));
    const jobs = (config.scrape_configs as { job_name: string; dns_sd_configs: { names: string[] }[] }[]).map((job) => [
      job.job_name,
      job.dns_sd_configs[0].names[0],
    ]);
    expect(jobs).toEqual(
      expect.arrayContaining([
        ['gateway', 'gateway'],
        ['knowledge', 'knowledge-service'],
      ]),
    );
    const compose = parse(readFileSync(path.join(ROOT, 'docker/compose.yaml'), 'utf8'), { merge: true });
    for (const [, host] of jobs) expect(Object.keys(compose.services)).toContain(host);
    expect(Object.keys(compose.services)).toEqual(expect.arrayContaining(['prometheus', 'grafana']));
  });
});
