import { Inject, Injectable } from '@nestjs/common';
import { z } from 'zod';
import type { ContentBlock, ToolAnnotations, ToolResult } from '@fabric/contracts';
import {
  McpCompletion,
  McpPrompt,
  McpResourceTemplate,
  McpTool,
  type CallContext,
  type ResourceContext,
} from '@fabric/service-kit';
import { GraphService } from './graph.service';
import {
  AddedObservationsSchema,
  DeletionStatusSchema,
  EntitySchema,
  KnowledgeGraphSchema,
  ObservationAdditionSchema,
  ObservationDeletionSchema,
  RelationSchema,
  SearchNodesQuerySchema,
  type Entity,
  type EntityDetails,
  type KnowledgeGraph,
  type ObservationAddition,
  type ObservationDeletion,
  type Relation,
} from './knowledge.schemas';

// Re-running a write with the same arguments changes nothing more (duplicates are skipped), so every
// tool is idempotent and a call lost with a crashed replica may be retried. The reference server
// marks its three create/add tools non-idempotent; that is the one place this service differs.
const WRITE: ToolAnnotations = {
  readOnlyHint: false,
  destructiveHint: false,
  idempotentHint: true,
  openWorldHint: false,
};
const DELETE: ToolAnnotations = {
  readOnlyHint: false,
  destructiveHint: true,
  idempotentHint: true,
  openWorldHint: false,
};
const READ: ToolAnnotations = {
  readOnlyHint: true,
  destructiveHint: false,
  idempotentHint: true,
  openWorldHint: false,
};

const ENTITY_TEMPLATE = 'entity';

// What a write invalidates: `graph` (the whole graph and every search, which any change may alter) and
// `entity:<name>` for each entity whose own view changed (open_nodes and the entity resource show an
// entity with the relations touching it). Reads are kept for a minute at most, invalidated at once.
const CACHE_TTL_MS = 60_000;
const GRAPH = 'graph';
const entityTag = (name: string) => `entity:${name}`;

/** The tags of a write that changed these entities (none changed: nothing to invalidate). */
function changed(names: string[]): string[] {
  return names.length === 0 ? [] : [GRAPH, ...new Set(names.map(entityTag))];
}
const SUMMARIZE_PROMPT = 'summarize_entity';

// export_graph: entities per page by default and at most, how long a plain call of it may take (a task is
// bounded by its TTL instead), and the URI naming the exported document.
const EXPORT_PAGE = 200;
const EXPORT_MAX_PAGE = 1_000;
const EXPORT_TIMEOUT_MS = 120_000;
const EXPORT_URI = 'knowledge://graph/export';

/**
 * The knowledge graph over MCP: the nine tools of the reference memory server, an export of the whole graph
 * (a long-running tool, also as an MCP task), a resource per entity and a prompt.
 */
@Injectable()
export class KnowledgeTools {
  constructor(@Inject(GraphService) private readonly graph: GraphService) {}

  @McpTool({
    name: 'create_entities',
    title: 'Create Entities',
    description: 'Create multiple new entities in the knowledge graph',
    input: z.object({ entities: z.array(EntitySchema) }),
    output: z.object({ entities: z.array(EntitySchema) }),
    annotations: WRITE,
  })
  async createEntities(args: { entities: Entity[] }, ctx: CallContext): Promise<ToolResult> {
    // Like the reference, only the entities created: one whose name was taken is left out, unannounced.
    const entities = await this.graph.createEntities(args.entities, ctx.signal);
    await ctx.cache.invalidate({ tags: changed(entities.map((entity) => entity.name)) });
    return { content: [text(JSON.stringify(entities, null, 2))], structuredContent: { entities } };
  }

  @McpTool({
    name: 'create_relations',
    title: 'Create Relations',
    description:
      'Create multiple new relations between entities in the knowledge graph. Relations should be in active voice',
    input: z.object({ relations: z.array(RelationSchema) }),
    output: z.object({ relations: z.array(RelationSchema) }),
    annotations: WRITE,
  })
  async createRelations(args: { relations: Relation[] }, ctx: CallContext): Promise<ToolResult> {
    const relations = await this.graph.createRelations(args.relations, ctx.signal);
    await ctx.cache.invalidate({ tags: changed(relations.flatMap((relation) => [relation.from, relation.to])) });
    return { content: [text(JSON.stringify(relations, null, 2))], structuredContent: { relations } };
  }

  @McpTool({
    name: 'add_observations',
    title: 'Add Observations',
    description: 'Add new observations to existing entities in the knowledge graph',
    input: z.object({ observations: z.array(ObservationAdditionSchema) }),
    output: z.object({ results: z.array(AddedObservationsSchema) }),
    annotations: WRITE,
  })
  async addObservations(args: { observations: ObservationAddition[] }, ctx: CallContext): Promise<ToolResult> {
    const results = await this.graph.addObservations(args.observations, ctx.signal);
    await ctx.cache.invalidate({
      tags: changed(results.filter((result) => result.addedObservations.length > 0).map((result) => result.entityName)),
    });
    return { content: [text(JSON.stringify(results, null, 2))], structuredContent: { results } };
  }

  @McpTool({
    name: 'delete_entities',
    title: 'Delete Entities',
    description: 'Delete multiple entities and their associated relations from the knowledge graph',
    input: z.object({ entityNames: z.array(z.string()).describe('An array of entity names to delete') }),
    output: DeletionStatusSchema,
    annotations: DELETE,
  })
  async deleteEntities(args: { entityNames: string[] }, ctx: CallContext): Promise<ToolResult> {
    const { deleted, notFound, touched } = await this.graph.deleteEntities(args.entityNames, ctx.signal);
    await ctx.cache.invalidate({ tags: changed([...deleted, ...touched]) });
    return deletionStatus(
      notFound.length === 0
        ? 'Entities deleted successfully'
        : `Deleted ${deleted.length} of ${args.entityNames.length} entities. Not found: ${notFound.join(', ')}`,
    );
  }

  @McpTool({
    name: 'delete_observations',
    title: 'Delete Observations',
    description: 'Delete specific observations from entities in the knowledge graph',
    input: z.object({ deletions: z.array(ObservationDeletionSchema) }),
    output: DeletionStatusSchema,
    annotations: DELETE,
  })
  async deleteObservations(args: { deletions: ObservationDeletion[] }, ctx: CallContext): Promise<ToolResult> {
    const { deletedCount, missingEntities } = await this.graph.deleteObservations(args.deletions, ctx.signal);
    if (deletedCount > 0) {
      const present = args.deletions
        .map((deletion) => deletion.entityName)
        .filter((name) => !missingEntities.includes(name));
      await ctx.cache.invalidate({ tags: changed(present) });
    }
    const requested = args.deletions.reduce((total, deletion) => total + deletion.observations.length, 0);
    return deletionStatus(
      deletedCount === requested
        ? 'Observations deleted successfully'
        : `Deleted ${deletedCount} of ${requested} observations.` +
            (missingEntities.length > 0 ? ` Entities not found: ${missingEntities.join(', ')}` : ''),
    );
  }

  @McpTool({
    name: 'delete_relations',
    title: 'Delete Relations',
    description: 'Delete multiple relations from the knowledge graph',
    input: z.object({ relations: z.array(RelationSchema).describe('An array of relations to delete') }),
    output: DeletionStatusSchema,
    annotations: DELETE,
  })
  async deleteRelations(args: { relations: Relation[] }, ctx: CallContext): Promise<ToolResult> {
    const { deletedCount } = await this.graph.deleteRelations(args.relations, ctx.signal);
    if (deletedCount > 0) {
      await ctx.cache.invalidate({ tags: changed(args.relations.flatMap((relation) => [relation.from, relation.to])) });
    }
    return deletionStatus(
      deletedCount === args.relations.length
        ? 'Relations deleted successfully'
        : `Deleted ${deletedCount} of ${args.relations.length} relations. The rest matched nothing.`,
    );
  }

  @McpTool({
    name: 'read_graph',
    title: 'Read Graph',
    description: 'Read the entire knowledge graph',
    input: z.object({}),
    output: KnowledgeGraphSchema,
    annotations: READ,
    cache: { ttlMs: CACHE_TTL_MS, tags: [GRAPH] },
  })
  async readGraph(_args: Record<string, never>, ctx: CallContext): Promise<ToolResult> {
    return graphResult(await this.graph.readGraph(ctx.signal));
  }

  @McpTool({
    name: 'search_nodes',
    title: 'Search Nodes',
    description: 'Search for nodes in the knowledge graph based on a query',
    input: z.object({ query: SearchNodesQuerySchema }),
    output: KnowledgeGraphSchema,
    annotations: READ,
    cache: { ttlMs: CACHE_TTL_MS, tags: [GRAPH] },
  })
  async searchNodes(args: { query: string }, ctx: CallContext): Promise<ToolResult> {
    return graphResult(await this.graph.searchNodes(args.query, ctx.signal));
  }

  @McpTool({
    name: 'open_nodes',
    title: 'Open Nodes',
    description: 'Open specific nodes in the knowledge graph by their names',
    input: z.object({ names: z.array(z.string()).describe('An array of entity names to retrieve') }),
    output: KnowledgeGraphSchema,
    annotations: READ,
    cache: { ttlMs: CACHE_TTL_MS, tags: [entityTag('{names}')] },
  })
  async openNodes(args: { names: string[] }, ctx: CallContext): Promise<ToolResult> {
    return graphResult(await this.graph.openNodes(args.names, ctx.signal));
  }

  @McpTool({
    name: 'export_graph',
    title: 'Export Graph',
    description:
      'Export the whole knowledge graph as one JSON document (an embedded resource): every entity with its observations, and every relation. ' +
      'Read page by page from one consistent snapshot, reporting progress per page; a large graph takes a while, so call it as a task where the client can.',
    input: z.object({
      pageSize: z.number().int().min(1).max(EXPORT_MAX_PAGE).default(EXPORT_PAGE).describe('Entities read per page'),
    }),
    annotations: READ,
    timeoutMs: EXPORT_TIMEOUT_MS,
    execution: { taskSupport: 'optional' },
  })
  async exportGraph(args: { pageSize: number }, ctx: CallContext): Promise<ToolResult> {
    const graph = await this.graph.exportGraph(
      args.pageSize,
      (read, total) => ctx.progress(read, total, `${read} of ${total} entities`),
      ctx.signal,
    );
    const summary = `Exported ${graph.entities.length} entities and ${graph.relations.length} relations`;
    ctx.log('info', summary, 'export_graph');
    return {
      content: [
        text(summary),
        { type: 'resource', resource: { uri: EXPORT_URI, mimeType: 'application/json', text: JSON.stringify(graph) } },
      ],
    };
  }

  @McpResourceTemplate({
    uriTemplate: 'knowledge://entities/{name}',
    name: ENTITY_TEMPLATE,
    title: 'Entity',
    description:
      'One entity of the knowledge graph: its type, its observations and the relations that start or end at it.',
    mimeType: 'application/json',
    cache: { ttlMs: CACHE_TTL_MS, tags: [entityTag('{name}')] },
  })
  async readEntity(params: Record<string, string | string[]>, ctx: ResourceContext): Promise<EntityDetails> {
    const name = params['name'];
    return this.graph.entityDetails(Array.isArray(name) ? name.join('/') : (name ?? ''), ctx.signal);
  }

  @McpPrompt({
    name: SUMMARIZE_PROMPT,
    title: 'Summarize Entity',
    description:
      'Asks for a summary of everything the knowledge graph holds about one entity: its observations and its relations.',
    arguments: z.object({ name: z.string().describe('The name of the entity to summarize') }),
  })
  async summarizeEntity(args: { name: string }, ctx: CallContext): Promise<string> {
    return summaryRequest(await this.graph.entityDetails(args.name, ctx.signal));
  }

  @McpCompletion({ prompt: SUMMARIZE_PROMPT, argument: 'name' })
  completePromptEntityName(value: string, _context: Record<string, string>, ctx: CallContext) {
    return this.graph.completeEntityNames(value, ctx.signal);
  }

  @McpCompletion({ resourceTemplate: ENTITY_TEMPLATE, argument: 'name' })
  completeTemplateEntityName(value: string, _context: Record<string, string>, ctx: CallContext) {
    return this.graph.completeEntityNames(value, ctx.signal);
  }
}

function text(value: string): ContentBlock {
  return { type: 'text', text: value };
}

function graphResult(graph: KnowledgeGraph): ToolResult {
  return { content: [text(JSON.stringify(graph, null, 2))], structuredContent: { ...graph } };
}

function deletionStatus(message: string): ToolResult {
  return { content: [text(message)], structuredContent: { success: true, message } };
}

/** The user message of the summarize_entity prompt. */
export function summaryRequest(entity: EntityDetails): string {
  const list = (items: string[]) => (items.length > 0 ? items.map((item) => `- ${item}`).join('\n') : '- (none)');
  return [
    `Summarize everything known about the entity "${entity.name}" (type: ${entity.entityType}) in the knowledge graph.`,
    '',
    'Observations:',
    list(entity.observations),
    '',
    'Relations:',
    list(entity.relations.map((relation) => `${relation.from} ${relation.relationType} ${relation.to}`)),
  ].join('\n');
}
