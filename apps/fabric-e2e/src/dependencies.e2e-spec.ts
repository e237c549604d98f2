import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { ToolListChangedNotificationSchema } from '@modelcontextprotocol/sdk/types.js';
import { createScratchDatabase, type ScratchDatabase } from '@fabric/platform-persistence';
import { Fabric, listAllTools, textOf } from './support/fabric';
import { metricValue } from './support/metrics';
import { eventually } from './support/processes';
import { TcpLink } from './support/tcp-link';

// A replica that cannot reach its database takes no calls and leaves the catalog until the database is
// back; when no replica of a service is left, its tools leave the catalog and clients are told.
describe('a service whose database becomes unreachable', () => {
  let database: ScratchDatabase;
  let cut: TcpLink;
  let fabric: Fabric;
  let client: Client;
  let listChanged = 0;

  beforeAll(async () => {
    database = await createScratchDatabase('e2e_dependencies');
    const target = new URL(database.url);
    cut = await TcpLink.start({ host: target.hostname, port: Number(target.port || 5432) });
    const throughLink = new URL(database.url);
    throughLink.port = String(cut.port);
    const direct = { app: 'knowledge-service', env: { DATABASE_URL: database.url } };
    const linked = { app: 'knowledge-service', env: { DATABASE_URL: throughLink.toString() } };
    fabric = await Fabric.start({ services: [direct, linked, linked] });
    ({ client } = await fabric.connect());
    client.setNotificationHandler(ToolListChangedNotificationSchema, () => void listChanged++);
    await fabric.waitForTool(client, 'knowledge_read_graph');
  });

  afterAll(async () => {
    await fabric?.stop();
    await cut?.close();
    await database?.drop();
  });

  const instances = () => metricValue(fabric.gateway.url, 'fabric_gateway_catalog_instances', { service: 'knowledge' });
  const readGraph = () => client.callTool({ name: 'knowledge_read_graph', arguments: {} });

  it('replicas that lose their database leave the catalog while the others keep serving, and come back with it', async () => {
    expect(await instances()).toBe(3);
    await cut.cut();
    await eventually(async () => (await instances()) === 1, 10_000, 'the cut-off replicas to leave the catalog');
    const results = await Promise.all(Array.from({ length: 20 }, readGraph));
    expect(results.filter((result) => result.isError).map(textOf)).toEqual([]);
    const [direct, ...linked] = fabric.replicas('knowledge-service');
    expect((await fetch(`${direct.url}/readyz`)).status).toBe(200);
    for (const replica of linked) expect((await fetch(`${replica.url}/readyz`)).status).toBe(503);

    await cut.restore();
    await eventually(async () => (await instances()) === 3, 10_000, 'the replicas to rejoin');
  });

  it('when no replica is left, the tools leave the catalog and clients get tools/list_changed', async () => {
    const direct = fabric.replicas('knowledge-service')[0];
    await direct.stop('SIGKILL');
    await eventually(async () => (await instances()) === 2, 10_000, 'the killed replica to leave');
    const before = listChanged;
    await cut.cut();
    await fabric.waitForTool(client, 'knowledge_read_graph', false);
    await eventually(() => listChanged > before, 5_000, 'tools/list_changed');
    expect(await listAllTools(client)).not.toContain('knowledge_create_entities');

    await cut.restore();
    await fabric.waitForTool(client, 'knowledge_read_graph');
    expect((await readGraph()).isError).toBeFalsy();
  });
});
