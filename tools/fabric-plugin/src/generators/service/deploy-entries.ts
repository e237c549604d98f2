// Text edits of the two deployment files the service generator extends. Text, not a YAML round trip,
// so the files keep their comments, anchors and layout (which docker/validate.sh lints).

/** The compose service block of a domain service: the shared `*service` block plus its image. */
export function composeServiceBlock(projectName: string): string[] {
  return [
    `  ${projectName}:`,
    `    image: mcp-fabric/${projectName}:local`,
    `    build:`,
    `      context: ..`,
    `      dockerfile: docker/Dockerfile`,
    `      args:`,
    `        APP: ${projectName}`,
    `    <<: *service`,
    `    pull_policy: build`,
  ];
}

/** Whether docker/compose.yaml already has a service of that name. */
export function hasComposeService(compose: string, serviceName: string): boolean {
  return compose.split('\n').some((line) => line.replace(/\s+$/, '') === `  ${serviceName}:`);
}

/**
 * Adds a domain service to docker/compose.yaml, keeping `services` sorted by name (as dclint wants):
 * before the first service whose name sorts after it, with the comments directly above that service.
 */
export function addComposeService(compose: string, projectName: string): string {
  const lines = compose.split('\n');
  const start = lines.findIndex((line) => /^services:\s*$/.test(line));
  if (start < 0) throw new Error('docker/compose.yaml has no top-level `services:` key.');
  const nextTopLevel = lines.findIndex((line, index) => index > start && /^[^\s#][^:]*:/.test(line));
  const end = nextTopLevel < 0 ? lines.length : nextTopLevel;

  const block = composeServiceBlock(projectName);
  const after = lines.findIndex((line, index) => {
    const header = /^ {2}([A-Za-z0-9._-]+):\s*$/.exec(line);
    return index > start && index < end && header !== null && header[1].localeCompare(projectName) > 0;
  });
  if (after >= 0) {
    let at = after;
    while (at - 1 > start && /^\s*#/.test(lines[at - 1])) at -= 1;
    lines.splice(at, 0, ...block, '');
  } else {
    let last = end - 1;
    while (last > start && lines[last].trim() === '') last -= 1;
    lines.splice(last + 1, 0, '', ...block);
  }
  return lines.join('\n');
}

/**
 * Adds a scrape job for a domain service to docker/prometheus/prometheus.yml (its last list is
 * `scrape_configs`): job `<service>`, every container of `<service>-service` by compose DNS. The shipped
 * per-service dashboard selects a service by this job name.
 */
export function addPrometheusJob(prometheus: string, serviceName: string, projectName: string): string {
  const job = [
    `  - job_name: ${serviceName}`,
    `    dns_sd_configs:`,
    `      - names: [${projectName}]`,
    `        type: A`,
    `        port: 3000`,
  ];
  return `${prometheus.replace(/\s*$/, '')}\n${job.join('\n')}\n`;
}

/** Adds a file to the `resources` list of a kustomization.yaml, after the last entry. */
export function addKustomizationResource(kustomization: string, resource: string): string {
  const lines = kustomization.split('\n');
  const start = lines.findIndex((line) => /^resources:\s*$/.test(line));
  if (start < 0) throw new Error('deploy/k8s/base/kustomization.yaml has no top-level `resources:` list.');
  let last = start;
  for (let index = start + 1; index < lines.length && /^(\s+- |\s*#|\s*$)/.test(lines[index]); index += 1) {
    if (/^\s+- /.test(lines[index])) last = index;
  }
  const indent = last > start ? /^(\s+)- /.exec(lines[last])![1] : '  ';
  lines.splice(last + 1, 0, `${indent}- ${resource}`);
  return lines.join('\n');
}
