import {
  ServiceManifestSchema,
  type Announcement,
  type ServiceManifest,
  type ServiceManifestInput,
} from '@fabric/contracts';
import { CatalogSnapshot, compareVersions, liveServices, type LiveService } from './catalog.snapshot';

const inputSchema = { type: 'object', properties: {} };

function manifest(
  service: string,
  parts: Partial<ServiceManifestInput> & { toolNames?: string[]; promptNames?: string[] } = {},
): ServiceManifest {
  const { toolNames = [], promptNames = [], ...rest } = parts;
  return ServiceManifestSchema.parse({
    service,
    version: '1.0.0',
    tools: toolNames.map((name) => ({ name, description: `${service} ${name}`, inputSchema })),
    prompts: promptNames.map((name) => ({ name })),
    ...rest,
  });
}

/** The live-service map the catalog is built from, in the given insertion order. */
function live(...manifests: ServiceManifest[]): Map<string, LiveService> {
  return new Map(manifests.map((m) => [m.service, { manifest: m, instances: [`${m.service}-1`] }]));
}

function announcement(m: ServiceManifest, instanceId: string): Announcement {
  return { instanceId, manifest: m, heartbeatMs: 2_000, state: 'ready', sentAt: 0 };
}

const names = (snapshot: CatalogSnapshot) => snapshot.tools.map((tool) => [tool.publicName, tool.service]);

describe('CatalogSnapshot', () => {
  describe('with the service prefix on', () => {
    it('names each tool <service>_<tool>', () => {
      const snapshot = new CatalogSnapshot(live(manifest('orders', { toolNames: ['find', 'cancel'] })), {
        prefix: true,
      });
      expect(names(snapshot)).toEqual([
        ['orders_find', 'orders'],
        ['orders_cancel', 'orders'],
      ]);
      expect(snapshot.tool('orders_find')?.descriptor.name).toBe('find');
    });

    it('gives two services with the same tool name distinct names and reports no conflict', () => {
      const snapshot = new CatalogSnapshot(
        live(manifest('orders', { toolNames: ['search'] }), manifest('billing', { toolNames: ['search'] })),
        {
          prefix: true,
        },
      );
      expect(names(snapshot)).toEqual([
        ['billing_search', 'billing'],
        ['orders_search', 'orders'],
      ]);
      expect(snapshot.conflicts).toEqual([]);
    });

    it('names prompts <service>_<prompt> too', () => {
      const snapshot = new CatalogSnapshot(live(manifest('orders', { promptNames: ['summarise'] })), { prefix: true });
      expect(snapshot.prompt('orders_summarise')?.descriptor.name).toBe('summarise');
    });
  });

  describe('with the service prefix off', () => {
    it('uses the bare tool name when nobody else claims it', () => {
      const snapshot = new CatalogSnapshot(live(manifest('orders', { toolNames: ['find'] })), { prefix: false });
      expect(names(snapshot)).toEqual([['find', 'orders']]);
      expect(snapshot.conflicts).toEqual([]);
    });

    it('keeps the bare name for the first service by name and renames the other to <service>_<tool>', () => {
      const snapshot = new CatalogSnapshot(
        live(manifest('orders', { toolNames: ['search'] }), manifest('billing', { toolNames: ['search'] })),
        {
          prefix: false,
        },
      );
      expect(names(snapshot)).toEqual([
        ['search', 'billing'],
        ['orders_search', 'orders'],
      ]);
      expect(snapshot.tool('orders_search')?.service).toBe('orders');
      expect(snapshot.conflicts).toEqual([
        { kind: 'tool', name: 'search', winner: 'billing', loser: 'orders', renamedTo: 'orders_search' },
      ]);
    });

    it('resolves prompt conflicts the same way', () => {
      const snapshot = new CatalogSnapshot(
        live(manifest('orders', { promptNames: ['greet'] }), manifest('billing', { promptNames: ['greet'] })),
        {
          prefix: false,
        },
      );
      expect(snapshot.prompts.map((prompt) => prompt.publicName)).toEqual(['greet', 'orders_greet']);
      expect(snapshot.conflicts).toEqual([
        { kind: 'prompt', name: 'greet', winner: 'billing', loser: 'orders', renamedTo: 'orders_greet' },
      ]);
    });

    it('leaves a tool out, and reports it without renamedTo, when both its names are taken', () => {
      // billing's bare "orders_search" takes the name orders' "search" would be renamed to.
      const snapshot = new CatalogSnapshot(
        live(
          manifest('billing', { toolNames: ['search', 'orders_search'] }),
          manifest('orders', { toolNames: ['search'] }),
        ),
        { prefix: false },
      );
      expect(names(snapshot)).toEqual([
        ['search', 'billing'],
        ['orders_search', 'billing'],
      ]);
      expect(snapshot.conflicts).toEqual([{ kind: 'tool', name: 'search', winner: 'billing', loser: 'orders' }]);
    });
  });

  it('gives the same names, order and conflicts whatever the order services arrive in', () => {
    const a = manifest('alpha', { toolNames: ['search', 'list'] });
    const b = manifest('beta', { toolNames: ['search'] });
    const c = manifest('gamma', { toolNames: ['list', 'search'] });
    const reference = new CatalogSnapshot(live(a, b, c), { prefix: false });
    for (const order of [
      [c, b, a],
      [b, c, a],
      [b, a, c],
    ]) {
      const snapshot = new CatalogSnapshot(live(...order), { prefix: false });
      expect(names(snapshot)).toEqual(names(reference));
      expect(snapshot.conflicts).toEqual(reference.conflicts);
      expect(snapshot.fingerprint()).toEqual(reference.fingerprint());
    }
    expect(names(reference)).toEqual([
      ['search', 'alpha'],
      ['list', 'alpha'],
      ['beta_search', 'beta'],
      ['gamma_list', 'gamma'],
      ['gamma_search', 'gamma'],
    ]);
  });

  it('keeps the first service on a resource URI and reports the other as left out', () => {
    const resources = [{ uri: 'shared://status', name: 'status' }];
    const snapshot = new CatalogSnapshot(live(manifest('orders', { resources }), manifest('billing', { resources })), {
      prefix: true,
    });
    expect(snapshot.resources.map((resource) => resource.service)).toEqual(['billing']);
    expect(snapshot.resource('shared://status')?.service).toBe('billing');
    expect(snapshot.conflicts).toEqual([
      { kind: 'resource', name: 'shared://status', winner: 'billing', loser: 'orders' },
    ]);
  });

  it('keeps the first service on a resource template and reports the other as left out', () => {
    const resourceTemplates = [{ uriTemplate: 'shared://{id}', name: 'item' }];
    const snapshot = new CatalogSnapshot(
      live(manifest('orders', { resourceTemplates }), manifest('billing', { resourceTemplates })),
      {
        prefix: true,
      },
    );
    expect(snapshot.templates.map((template) => template.service)).toEqual(['billing']);
    expect(snapshot.templateByUriTemplate('shared://{id}')?.service).toBe('billing');
    expect(snapshot.conflicts).toEqual([
      { kind: 'resourceTemplate', name: 'shared://{id}', winner: 'billing', loser: 'orders' },
    ]);
  });

  describe('fingerprint', () => {
    const base = () => [
      manifest('orders', {
        toolNames: ['find'],
        promptNames: ['summarise'],
        resources: [{ uri: 'orders://recent', name: 'recent' }],
      }),
      manifest('billing', { toolNames: ['charge'] }),
    ];

    it('is equal for two snapshots of the same services', () => {
      expect(new CatalogSnapshot(live(...base()), { prefix: true }).fingerprint()).toEqual(
        new CatalogSnapshot(live(...base()), { prefix: true }).fingerprint(),
      );
    });

    it('changes only the tools entry when only a tool changed', () => {
      const before = new CatalogSnapshot(live(...base()), { prefix: true }).fingerprint();
      const [orders, billing] = base();
      const after = new CatalogSnapshot(
        live(orders, { ...billing, tools: [...billing.tools, { name: 'refund', inputSchema }] }),
        {
          prefix: true,
        },
      ).fingerprint();
      expect(after.tools).not.toBe(before.tools);
      expect(after.prompts).toBe(before.prompts);
      expect(after.resources).toBe(before.resources);
    });

    it('changes only the prompts entry when only a prompt changed', () => {
      const before = new CatalogSnapshot(live(...base()), { prefix: true }).fingerprint();
      const [orders, billing] = base();
      const after = new CatalogSnapshot(
        live({ ...orders, prompts: [{ name: 'summarise', description: 'new text', arguments: [] }] }, billing),
        {
          prefix: true,
        },
      ).fingerprint();
      expect(after.prompts).not.toBe(before.prompts);
      expect(after.tools).toBe(before.tools);
      expect(after.resources).toBe(before.resources);
    });

    it('changes only the resources entry when a resource or template changed', () => {
      const before = new CatalogSnapshot(live(...base()), { prefix: true }).fingerprint();
      const [orders, billing] = base();
      const after = new CatalogSnapshot(
        live(orders, { ...billing, resourceTemplates: [{ uriTemplate: 'billing://{id}', name: 'invoice' }] }),
        {
          prefix: true,
        },
      ).fingerprint();
      expect(after.resources).not.toBe(before.resources);
      expect(after.tools).toBe(before.tools);
      expect(after.prompts).toBe(before.prompts);
    });

    it('does not change when only the instances or the version of a service change', () => {
      const before = new CatalogSnapshot(live(...base()), { prefix: true }).fingerprint();
      const [orders, billing] = base();
      const services = live({ ...orders, version: '1.1.0' }, billing);
      services.get('orders')!.instances.push('orders-2');
      expect(new CatalogSnapshot(services, { prefix: true }).fingerprint()).toEqual(before);
    });
  });
});

describe('liveServices', () => {
  it('groups instances by service and shows the manifest of the highest version', () => {
    const old = manifest('orders', { version: '1.9.0', toolNames: ['find'] });
    const current = manifest('orders', { version: '1.10.0', toolNames: ['find', 'cancel'] });
    const services = liveServices([
      announcement(old, 'orders-a'),
      announcement(current, 'orders-b'),
      announcement(manifest('billing'), 'billing-a'),
    ]);
    expect([...services.keys()].sort()).toEqual(['billing', 'orders']);
    expect(services.get('orders')!.manifest).toBe(current);
    expect(services.get('orders')!.instances.sort()).toEqual(['orders-a', 'orders-b']);
  });

  it('picks the same manifest among instances of equal version whatever their order', () => {
    const first = manifest('orders', { toolNames: ['a'] });
    const second = manifest('orders', { toolNames: ['b'] });
    const one = liveServices([announcement(first, 'orders-1'), announcement(second, 'orders-2')]);
    const other = liveServices([announcement(second, 'orders-2'), announcement(first, 'orders-1')]);
    expect(one.get('orders')!.manifest).toBe(first);
    expect(other.get('orders')!.manifest).toBe(first);
  });

  it('returns no services for no instances', () => {
    expect(liveServices([]).size).toBe(0);
  });
});

describe('compareVersions', () => {
  it.each([
    ['1.10.0', '1.9.0', 1],
    ['1.9.0', '1.10.0', -1],
    ['2.0.0', '10.0.0', -1],
    ['1.2.3', '1.2.3', 0],
    ['1.2', '1.2.0', 0],
    ['1.2.1', '1.2', 1],
  ])('compares %s with %s as %d', (a, b, expected) => {
    expect(compareVersions(a, b)).toBe(expected);
  });

  it('orders a pre-release below its release (1.0.0-rc.1 < 1.0.0)', () => {
    expect(compareVersions('1.0.0-rc.1', '1.0.0')).toBe(-1);
    expect(compareVersions('1.0.0', '1.0.0-rc.1')).toBe(1);
  });
});
