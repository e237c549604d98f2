import { HandlerTable } from '@fabric/service-kit';
import {
  acme,
  alice,
  aliceKnowsBob,
  aliceWorksAtAcme,
  bob,
  callContext,
  openReplica,
  seed,
  type GraphReplica,
} from '../testing/graph.fixtures';
import { KnowledgeTools } from './knowledge.tools';

// JSON Schemas as the reference server publishes them (its tools.test.ts); the kit adds `$schema` to input schemas.
const entityItem = (closed: boolean) => ({
  type: 'object',
  properties: {
    name: { type: 'string', description: 'The name of the entity' },
    entityType: { type: 'string', description: 'The type of the entity' },
    observations: {
      type: 'array',
      items: { type: 'string' },
      description: 'An array of observation contents associated with the entity',
    },
  },
  required: ['name', 'entityType', 'observations'],
  ...(closed ? { additionalProperties: false } : {}),
});
const relationItem = (closed: boolean) => ({
  type: 'object',
  properties: {
    from: { type: 'string', description: 'The name of the entity where the relation starts' },
    to: { type: 'string', description: 'The name of the entity where the relation ends' },
    relationType: { type: 'string', description: 'The type of the relation' },
  },
  required: ['from', 'to', 'relationType'],
  ...(closed ? { additionalProperties: false } : {}),
});
const graphOutput = {
  type: 'object',
  properties: {
    entities: { type: 'array', items: entityItem(true) },
    relations: { type: 'array', items: relationItem(true) },
  },
  required: ['entities', 'relations'],
  additionalProperties: false,
};
const statusOutput = {
  type: 'object',
  properties: { success: { type: 'boolean' }, message: { type: 'string' } },
  required: ['success', 'message'],
  additionalProperties: false,
};
const referenceSchemas = {
  create_entities: {
    input: {
      type: 'object',
      properties: { entities: { type: 'array', items: entityItem(false) } },
      required: ['entities'],
    },
    output: {
      type: 'object',
      properties: { entities: { type: 'array', items: entityItem(true) } },
      required: ['entities'],
      additionalProperties: false,
    },
  },
  create_relations: {
    input: {
      type: 'object',
      properties: { relations: { type: 'array', items: relationItem(false) } },
      required: ['relations'],
    },
    output: {
      type: 'object',
      properties: { relations: { type: 'array', items: relationItem(true) } },
      required: ['relations'],
      additionalProperties: false,
    },
  },
  add_observations: {
    input: {
      type: 'object',
      properties: {
        observations: {
          type: 'array',
          items: {
            type: 'object',
            properties: {
              entityName: { type: 'string', description: 'The name of the entity to add the observations to' },
              contents: {
                type: 'array',
                items: { type: 'string' },
                description: 'An array of observation contents to add',
              },
            },
            required: ['entityName', 'contents'],
          },
        },
      },
      required: ['observations'],
    },
    output: {
      type: 'object',
      properties: {
        results: {
          type: 'array',
          items: {
            type: 'object',
            properties: {
              entityName: { type: 'string' },
              addedObservations: { type: 'array', items: { type: 'string' } },
            },
            required: ['entityName', 'addedObservations'],
            additionalProperties: false,
          },
        },
      },
      required: ['results'],
      additionalProperties: false,
    },
  },
  delete_entities: {
    input: {
      type: 'object',
      properties: {
        entityNames: { type: 'array', items: { type: 'string' }, description: 'An array of entity names to delete' },
      },
      required: ['entityNames'],
    },
    output: statusOutput,
  },
  delete_observations: {
    input: {
      type: 'object',
      properties: {
        deletions: {
          type: 'array',
          items: {
            type: 'object',
            properties: {
              entityName: { type: 'string', description: 'The name of the entity containing the observations' },
              observations: {
                type: 'array',
                items: { type: 'string' },
                description: 'An array of observations to delete',
              },
            },
            required: ['entityName', 'observations'],
          },
        },
      },
      required: ['deletions'],
    },
    output: statusOutput,
  },
  delete_relations: {
    input: {
      type: 'object',
      properties: {
        relations: { type: 'array', items: relationItem(false), description: 'An array of relations to delete' },
      },
      required: ['relations'],
    },
    output: statusOutput,
  },
  read_graph: { input: { type: 'object', properties: {} }, output: graphOutput },
  search_nodes: {
    input: {
      type: 'object',
      properties: {
        query: {
          type: 'string',
          maxLength: 2048,
          description: 'The search query to match against entity names, types, and observation content',
        },
      },
      required: ['query'],
    },
    output: graphOutput,
  },
  open_nodes: {
    input: {
      type: 'object',
      properties: {
        names: { type: 'array', items: { type: 'string' }, description: 'An array of entity names to retrieve' },
      },
      required: ['names'],
    },
    output: graphOutput,
  },
};

const text = (value: string) => ({ type: 'text', text: value });
const json = (value: unknown) => text(JSON.stringify(value, null, 2));
const status = (message: string) => ({ content: [text(message)], structuredContent: { success: true, message } });

describe('KnowledgeTools', () => {
  let replica: GraphReplica;
  let tools: KnowledgeTools;
  const ctx = callContext();

  beforeEach(async () => {
    replica = await openReplica('sqlite::memory:');
    tools = new KnowledgeTools(replica.graph);
  });

  afterEach(async () => {
    await replica.dataSource.destroy();
  });

  describe('declarations', () => {
    const manifest = () => new HandlerTable({ service: 'knowledge', version: '1.0.0' }, [tools]).manifest;
    // The reference server's tools; export_graph is this service's own.
    const referenceTools = () => manifest().tools.filter((tool) => tool.name !== 'export_graph');

    it('declares the nine tools of the reference memory server with its input and output schemas', () => {
      const declared = Object.fromEntries(
        referenceTools().map((tool) => [tool.name, { input: tool.inputSchema, output: tool.outputSchema }]),
      );
      const published = Object.fromEntries(
        Object.entries(referenceSchemas).map(([name, { input, output }]) => [
          name,
          { input: { $schema: 'https://json-schema.org/draft/2020-12/schema', ...input }, output },
        ]),
      );
      expect(declared).toEqual(published);
    });

    it('gives each tool the title and description of the reference memory server', () => {
      const declared = Object.fromEntries(referenceTools().map((tool) => [tool.name, [tool.title, tool.description]]));
      expect(declared).toEqual({
        create_entities: ['Create Entities', 'Create multiple new entities in the knowledge graph'],
        create_relations: [
          'Create Relations',
          'Create multiple new relations between entities in the knowledge graph. Relations should be in active voice',
        ],
        add_observations: ['Add Observations', 'Add new observations to existing entities in the knowledge graph'],
        delete_entities: [
          'Delete Entities',
          'Delete multiple entities and their associated relations from the knowledge graph',
        ],
        delete_observations: [
          'Delete Observations',
          'Delete specific observations from entities in the knowledge graph',
        ],
        delete_relations: ['Delete Relations', 'Delete multiple relations from the knowledge graph'],
        read_graph: ['Read Graph', 'Read the entire knowledge graph'],
        search_nodes: ['Search Nodes', 'Search for nodes in the knowledge graph based on a query'],
        open_nodes: ['Open Nodes', 'Open specific nodes in the knowledge graph by their names'],
      });
    });

    it('marks the read tools read-only, the delete tools destructive, and every tool idempotent and closed-world', () => {
      const hints = Object.fromEntries(referenceTools().map((tool) => [tool.name, tool.annotations]));
      const write = { readOnlyHint: false, destructiveHint: false, idempotentHint: true, openWorldHint: false };
      const destroy = { readOnlyHint: false, destructiveHint: true, idempotentHint: true, openWorldHint: false };
      const read = { readOnlyHint: true, destructiveHint: false, idempotentHint: true, openWorldHint: false };
      expect(hints).toEqual({
        create_entities: write,
        create_relations: write,
        add_observations: write,
        delete_entities: destroy,
        delete_observations: destroy,
        delete_relations: destroy,
        read_graph: read,
        search_nodes: read,
        open_nodes: read,
      });
    });

    it('declares export_graph as a read-only tool that may run as a task', () => {
      expect(manifest().tools.find((tool) => tool.name === 'export_graph')).toMatchObject({
        title: 'Export Graph',
        annotations: { readOnlyHint: true, idempotentHint: true },
        execution: { taskSupport: 'optional' },
      });
      // Only the export runs as a task: the reference tools answer at once.
      expect(referenceTools().filter((tool) => tool.execution)).toEqual([]);
    });

    it('declares the entity template and the summarize prompt, each with a completable name', () => {
      const { resourceTemplates, prompts } = manifest();
      expect(resourceTemplates).toEqual([
        expect.objectContaining({
          uriTemplate: 'knowledge://entities/{name}',
          name: 'entity',
          mimeType: 'application/json',
          completable: ['name'],
        }),
      ]);
      expect(prompts).toEqual([
        expect.objectContaining({
          name: 'summarize_entity',
          completable: ['name'],
          arguments: [expect.objectContaining({ name: 'name', required: true })],
        }),
      ]);
    });
  });

  describe('create_entities', () => {
    it('returns the created entities as JSON text and as structured content', async () => {
      expect(await tools.createEntities({ entities: [alice, bob] }, ctx)).toEqual({
        content: [json([alice, bob])],
        structuredContent: { entities: [alice, bob] },
      });
    });

    it('leaves out, as the reference does, an entity whose name exists, and says nothing more', async () => {
      await tools.createEntities({ entities: [alice] }, ctx);
      expect(await tools.createEntities({ entities: [{ ...alice, observations: ['allergic'] }, bob] }, ctx)).toEqual({
        content: [json([bob])],
        structuredContent: { entities: [bob] },
      });
    });

    it('answers an empty list when every entity exists', async () => {
      await tools.createEntities({ entities: [alice] }, ctx);
      expect(await tools.createEntities({ entities: [alice] }, ctx)).toEqual({
        content: [text('[]')],
        structuredContent: { entities: [] },
      });
    });
  });

  describe('create_relations', () => {
    it('returns the created relations as JSON text and as structured content', async () => {
      await tools.createEntities({ entities: [alice, bob, acme] }, ctx);
      expect(await tools.createRelations({ relations: [aliceKnowsBob, aliceWorksAtAcme] }, ctx)).toEqual({
        content: [json([aliceKnowsBob, aliceWorksAtAcme])],
        structuredContent: { relations: [aliceKnowsBob, aliceWorksAtAcme] },
      });
    });

    it('fails with the reference message when an entity is missing', async () => {
      await expect(
        tools.createRelations({ relations: [{ from: 'Zed', to: 'Bob', relationType: 'x' }] }, ctx),
      ).rejects.toMatchObject({
        code: 'NOT_FOUND',
        message: 'Entity with name Zed not found',
      });
    });
  });

  describe('add_observations', () => {
    beforeEach(async () => {
      await tools.createEntities({ entities: [alice, bob] }, ctx);
    });

    it('returns what it added per entity as JSON text and as structured content', async () => {
      const results = [
        { entityName: 'Alice', addedObservations: ['plays chess'] },
        { entityName: 'Bob', addedObservations: [] },
      ];
      const call = {
        observations: [
          { entityName: 'Alice', contents: ['likes tea', 'plays chess'] },
          { entityName: 'Bob', contents: ['likes programming'] },
        ],
      };
      expect(await tools.addObservations(call, ctx)).toEqual({
        content: [json(results)],
        structuredContent: { results },
      });
    });

    it('fails with the reference message, a NotFoundError, when an entity is missing', async () => {
      await expect(
        tools.addObservations({ observations: [{ entityName: 'Zed', contents: ['unknown'] }] }, ctx),
      ).rejects.toMatchObject({
        name: 'NotFoundError',
        code: 'NOT_FOUND',
        message: 'Entity with name Zed not found',
      });
    });
  });

  describe('delete_entities', () => {
    beforeEach(() => seed(replica.graph));

    it('reports success when every name matched', async () => {
      expect(await tools.deleteEntities({ entityNames: ['Alice'] }, ctx)).toEqual(
        status('Entities deleted successfully'),
      );
    });

    it('names the entities it did not find, still reporting success', async () => {
      expect(await tools.deleteEntities({ entityNames: ['Bob', 'Zed', 'Yan'] }, ctx)).toEqual(
        status('Deleted 1 of 3 entities. Not found: Zed, Yan'),
      );
    });
  });

  describe('delete_observations', () => {
    beforeEach(() => seed(replica.graph));

    it('reports success when every observation was removed', async () => {
      expect(
        await tools.deleteObservations({ deletions: [{ entityName: 'Alice', observations: ['likes tea'] }] }, ctx),
      ).toEqual(status('Observations deleted successfully'));
    });

    it('counts observations that were not there', async () => {
      expect(
        await tools.deleteObservations(
          { deletions: [{ entityName: 'Alice', observations: ['likes tea', 'never said'] }] },
          ctx,
        ),
      ).toEqual(status('Deleted 1 of 2 observations.'));
    });

    it('names entities that do not exist', async () => {
      const deletions = [
        { entityName: 'Bob', observations: ['likes programming'] },
        { entityName: 'Zed', observations: ['a', 'b'] },
      ];
      expect(await tools.deleteObservations({ deletions }, ctx)).toEqual(
        status('Deleted 1 of 3 observations. Entities not found: Zed'),
      );
    });
  });

  describe('delete_relations', () => {
    beforeEach(() => seed(replica.graph));

    it('reports success when every relation was removed', async () => {
      expect(await tools.deleteRelations({ relations: [aliceKnowsBob] }, ctx)).toEqual(
        status('Relations deleted successfully'),
      );
    });

    it('counts relations that matched nothing', async () => {
      expect(
        await tools.deleteRelations({ relations: [aliceKnowsBob, { ...aliceKnowsBob, relationType: 'likes' }] }, ctx),
      ).toEqual(status('Deleted 1 of 2 relations. The rest matched nothing.'));
    });
  });

  describe('read_graph, search_nodes and open_nodes', () => {
    beforeEach(() => seed(replica.graph));

    it('read_graph returns the graph as JSON text and as structured content', async () => {
      const graph = { entities: [alice, bob, acme], relations: [aliceKnowsBob, aliceWorksAtAcme] };
      expect(await tools.readGraph({}, ctx)).toEqual({ content: [json(graph)], structuredContent: graph });
    });

    it('search_nodes returns the matches and the relations touching them', async () => {
      const graph = { entities: [bob], relations: [aliceKnowsBob] };
      expect(await tools.searchNodes({ query: 'bob' }, ctx)).toEqual({
        content: [json(graph)],
        structuredContent: graph,
      });
    });

    it('open_nodes returns the named entities and the relations touching them', async () => {
      const graph = { entities: [bob], relations: [aliceKnowsBob] };
      expect(await tools.openNodes({ names: ['Bob'] }, ctx)).toEqual({
        content: [json(graph)],
        structuredContent: graph,
      });
    });
  });

  describe('export_graph', () => {
    beforeEach(() => seed(replica.graph));

    it('returns the whole graph as an embedded JSON resource, reporting progress per page', async () => {
      const progress: [number, number?, string?][] = [];
      const withProgress = { ...ctx, progress: (...report: [number, number?, string?]) => void progress.push(report) };
      const result = await tools.exportGraph({ pageSize: 2 }, withProgress);
      expect(result.content).toEqual([
        text('Exported 3 entities and 2 relations'),
        {
          type: 'resource',
          resource: { uri: 'knowledge://graph/export', mimeType: 'application/json', text: expect.any(String) },
        },
      ]);
      const resource = result.content[1] as { resource: { text: string } };
      expect(JSON.parse(resource.resource.text)).toEqual({
        entities: [alice, bob, acme],
        relations: [aliceKnowsBob, aliceWorksAtAcme],
      });
      expect(progress).toEqual([
        [2, 3, '2 of 3 entities'],
        [3, 3, '3 of 3 entities'],
      ]);
    });

    it('stops between pages once its signal fires', async () => {
      const controller = new AbortController();
      const stopping = { ...ctx, signal: controller.signal, progress: () => controller.abort(new Error('cancelled')) };
      await expect(tools.exportGraph({ pageSize: 1 }, stopping)).rejects.toThrow('cancelled');
    });
  });

  describe('entity resource, summarize prompt and completions', () => {
    beforeEach(() => seed(replica.graph));

    it('reads an entity with its observations and relations', async () => {
      const entity = await tools.readEntity({ name: 'Alice' }, { ...ctx, uri: 'knowledge://entities/Alice' });
      expect(entity).toEqual({ ...alice, relations: [aliceKnowsBob, aliceWorksAtAcme] });
    });

    it('fails with NotFoundError when the entity does not exist', async () => {
      await expect(
        tools.readEntity({ name: 'Zed' }, { ...ctx, uri: 'knowledge://entities/Zed' }),
      ).rejects.toMatchObject({ code: 'NOT_FOUND' });
    });

    it('asks for a summary of the entity with its observations and relations', async () => {
      expect(await tools.summarizeEntity({ name: 'Alice' }, ctx)).toBe(
        [
          'Summarize everything known about the entity "Alice" (type: person) in the knowledge graph.',
          '',
          'Observations:',
          '- works at Acme Corp',
          '- likes tea',
          '',
          'Relations:',
          '- Alice knows Bob',
          '- Alice works_at Acme Corp',
        ].join('\n'),
      );
    });

    it("completes the prompt's entity name from the names that start with the typed prefix, ignoring case", async () => {
      expect(await tools.completePromptEntityName('a', {}, ctx)).toEqual({
        values: ['Acme Corp', 'Alice'],
        hasMore: false,
      });
    });

    it("completes the template's entity name from the names that start with the typed prefix, ignoring case", async () => {
      expect(await tools.completeTemplateEntityName('BO', {}, ctx)).toEqual({ values: ['Bob'], hasMore: false });
    });
  });
});
