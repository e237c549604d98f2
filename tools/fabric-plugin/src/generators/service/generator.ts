import * as path from 'node:path';
import { formatFiles, generateFiles, getProjects, names, type Tree } from '@nx/devkit';
import { addComposeService, addKustomizationResource, addPrometheusJob, hasComposeService } from './deploy-entries';
import type { ServiceGeneratorSchema } from './schema';

export const COMPOSE_FILE = 'docker/compose.yaml';
export const PROMETHEUS_FILE = 'docker/prometheus/prometheus.yml';
export const K8S_BASE_DIR = 'deploy/k8s/base';
export const KUSTOMIZATION_FILE = `${K8S_BASE_DIR}/kustomization.yaml`;
/** One kustomization per app (deployable alone), listed in the base. */
export const K8S_APPS_DIR = 'deploy/k8s/apps';

/** Lowercase letters, digits and single dashes, starting with a letter (a DNS label and a TS name). */
const NAME_PATTERN = /^[a-z][a-z0-9]*(-[a-z0-9]+)*$/;
/** Kubernetes label values stop at 63 characters; `<name>-service` must fit. */
const MAX_NAME_LENGTH = 63 - '-service'.length;

/** A `--name` the generator refuses, with the reason. */
export class InvalidServiceNameError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'InvalidServiceNameError';
  }
}

/** What the templates are filled with. */
export interface ServiceTemplateValues {
  /** `orders`: the name in the service's manifest, its NATS subjects and queue group. */
  serviceName: string;
  /** `orders-service`: the Nx project, the app folder, the image and the Kubernetes objects. */
  projectName: string;
  /** `orders`: file name stem of the tools class. */
  fileName: string;
  /** `Orders`: prefix of the tools class name. */
  className: string;
  /** `Orders`: human-readable title published in the manifest. */
  title: string;
  /** The description as a single-quoted TypeScript string literal. */
  descriptionLiteral: string;
}

/** `nx g @fabric/plugin:service --name orders`: apps/orders-service, its compose entry and scrape job, and its Kubernetes manifests. */
export async function serviceGenerator(tree: Tree, schema: ServiceGeneratorSchema): Promise<void> {
  const values = templateValues(schema);
  assertNew(tree, values);

  const templates = path.join(__dirname, 'files');
  generateFiles(tree, path.join(templates, 'app'), `apps/${values.projectName}`, { ...values, tmpl: '' });
  generateFiles(tree, path.join(templates, 'k8s'), K8S_APPS_DIR, { ...values, tmpl: '' });
  tree.write(COMPOSE_FILE, addComposeService(readRequired(tree, COMPOSE_FILE), values.projectName));
  tree.write(
    PROMETHEUS_FILE,
    addPrometheusJob(readRequired(tree, PROMETHEUS_FILE), values.serviceName, values.projectName),
  );
  tree.write(
    KUSTOMIZATION_FILE,
    addKustomizationResource(readRequired(tree, KUSTOMIZATION_FILE), `../apps/${values.projectName}`),
  );

  if (!schema.skipFormat) await formatFiles(tree);
}

export default serviceGenerator;

/** Validates `--name` and derives every name the templates use. */
export function templateValues(schema: ServiceGeneratorSchema): ServiceTemplateValues {
  const name = String(schema.name ?? '').trim();
  if (!NAME_PATTERN.test(name)) {
    throw new InvalidServiceNameError(
      `Invalid service name "${name}": use lowercase letters, digits and single dashes, starting with a letter (e.g. orders).`,
    );
  }
  if (name.endsWith('-service')) {
    throw new InvalidServiceNameError(
      `Invalid service name "${name}": leave out the "-service" suffix; --name ${name.slice(0, -'-service'.length)} creates apps/${name}.`,
    );
  }
  if (name.length > MAX_NAME_LENGTH) {
    throw new InvalidServiceNameError(
      `Invalid service name "${name}": at most ${MAX_NAME_LENGTH} characters, so that "${name}-service" is a valid Kubernetes label value.`,
    );
  }
  const { fileName, className } = names(name);
  const title = name
    .split('-')
    .map((word) => word[0].toUpperCase() + word.slice(1))
    .join(' ');
  const description = schema.description?.trim() || `Tools of the ${name} domain.`;
  return {
    serviceName: name,
    projectName: `${name}-service`,
    fileName,
    className,
    title,
    descriptionLiteral: `'${description.replace(/\\/g, '\\\\').replace(/'/g, "\\'").replace(/\r?\n/g, ' ')}'`,
  };
}

/** What in the workspace already uses `projectName`: empty when the generator may create it. */
export function serviceConflicts(tree: Tree, projectName: string): string[] {
  return [
    getProjects(tree).has(projectName) && `an Nx project named "${projectName}" exists`,
    tree.exists(`apps/${projectName}`) && `apps/${projectName} exists`,
    tree.exists(`${K8S_APPS_DIR}/${projectName}`) && `${K8S_APPS_DIR}/${projectName} exists`,
    tree.exists(COMPOSE_FILE) &&
      hasComposeService(tree.read(COMPOSE_FILE, 'utf-8') ?? '', projectName) &&
      `${COMPOSE_FILE} already has a "${projectName}" service`,
  ].filter((reason): reason is string => typeof reason === 'string');
}

function assertNew(tree: Tree, { projectName }: ServiceTemplateValues): void {
  const taken = serviceConflicts(tree, projectName);
  if (taken.length > 0) {
    throw new InvalidServiceNameError(`Service "${projectName}" already exists: ${taken.join('; ')}.`);
  }
}

function readRequired(tree: Tree, file: string): string {
  const content = tree.read(file, 'utf-8');
  if (content === null) throw new Error(`${file} is missing: the service generator adds the new service to it.`);
  return content;
}
