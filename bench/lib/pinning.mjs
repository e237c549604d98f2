// Where each role runs: CPU lists for taskset per role ('load', 'gateway', 'services', or 'servers' for
// every server role). A role without a CPU list runs unpinned.
import { canPin } from './processes.mjs';

export const PIN_LAYOUTS = {
  split: { load: '0', servers: '1', text: 'load generator on CPU 0, every server on CPU 1' },
  gateway: {
    load: '0',
    gateway: '1',
    services: '0',
    text: 'gateway alone on CPU 1, load generator and services on CPU 0',
  },
  load: { load: '0', text: 'load generator on CPU 0, servers unpinned' },
  none: { text: 'nothing pinned' },
};

/** The layout called `name`; nothing pinned (and said so) where taskset cannot pin. */
export function pinLayout(name) {
  const layout = PIN_LAYOUTS[name];
  if (!layout) throw new Error(`unknown pinning layout ${name} (one of ${Object.keys(PIN_LAYOUTS).join(', ')})`);
  if (!canPin && name !== 'none')
    return { name: 'none', text: `nothing pinned (asked for "${name}", but taskset cannot pin here)` };
  return { name, ...layout };
}

/** CPU list for a role ('load', 'gateway', 'services') in a layout; undefined means unpinned. */
export function cpuFor(layout, role) {
  return layout[role] ?? (role === 'load' ? undefined : layout.servers);
}
