import type { Tree } from '@nx/devkit';
import { serviceConflicts, templateValues } from '../generator';

/**
 * `base`, else `base-2`, `base-3`, ...: the first domain name nothing in the tree uses, so a spec that generates
 * a service still passes in a workspace where `nx g @fabric/plugin:service --name <base>` has already run.
 */
export function unusedServiceName(tree: Tree, base: string): string {
  for (let n = 1; ; n += 1) {
    const name = n === 1 ? base : `${base}-${n}`;
    if (serviceConflicts(tree, templateValues({ name }).projectName).length === 0) return name;
  }
}
