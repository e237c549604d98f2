import { Inject, Injectable } from '@nestjs/common';
import { NotFoundError } from '@fabric/contracts';
import { GraphRepository } from './graph.repository';
import type {
  AddedObservations,
  Entity,
  EntityDetails,
  KnowledgeGraph,
  ObservationAddition,
  ObservationDeletion,
  Relation,
} from './knowledge.schemas';

/** Most completion values one answer may carry (MCP). */
const MAX_COMPLETIONS = 100;

/**
 * The knowledge graph with the semantics of the reference memory server: duplicates are skipped rather
 * than refused, a batch that names a missing entity fails whole, deleting an entity deletes its
 * observations and relations. Every operation is one transaction, so replicas sharing the database
 * never lose each other's writes.
 */
@Injectable()
export class GraphService {
  constructor(@Inject(GraphRepository) private readonly repository: GraphRepository) {}

  /** Creates the entities with new names and returns them; a name that exists, or repeats one earlier in the batch, is skipped with its observations. */
  createEntities(entities: Entity[], signal?: AbortSignal): Promise<Entity[]> {
    return this.repository.write(async (tx) => {
      const created: Entity[] = [];
      for (const entity of entities) {
        const id = await tx.insertEntity(entity.name, entity.entityType);
        if (id === undefined) continue;
        const observations = unique(entity.observations);
        await tx.insertObservations(id, observations);
        created.push({ name: entity.name, entityType: entity.entityType, observations });
      }
      return created;
    }, signal);
  }

  /** Creates the relations that do not exist yet and returns them; fails, creating none, when an endpoint is missing. */
  createRelations(relations: Relation[], signal?: AbortSignal): Promise<Relation[]> {
    return this.repository.write(async (tx) => {
      const ids = await tx.entityIds(unique(relations.flatMap((relation) => [relation.from, relation.to])));
      for (const relation of relations) {
        idOf(ids, relation.from);
        idOf(ids, relation.to);
      }
      const created: Relation[] = [];
      for (const { from, to, relationType } of relations) {
        if (await tx.insertRelation(idOf(ids, from), idOf(ids, to), relationType))
          created.push({ from, to, relationType });
      }
      return created;
    }, signal);
  }

  /** Adds the observations each entity lacks and reports them; fails, adding none, when an entity is missing. */
  addObservations(additions: ObservationAddition[], signal?: AbortSignal): Promise<AddedObservations[]> {
    return this.repository.write(async (tx) => {
      const ids = await tx.entityIds(unique(additions.map((addition) => addition.entityName)));
      for (const addition of additions) idOf(ids, addition.entityName);
      const results: AddedObservations[] = [];
      for (const { entityName, contents } of additions) {
        results.push({
          entityName,
          addedObservations: await tx.insertObservations(idOf(ids, entityName), unique(contents)),
        });
      }
      return results;
    }, signal);
  }

  /**
   * Deletes the named entities, their observations and every relation touching them; reports which names
   * matched, and the other entities that lost a relation with them (`touched`).
   */
  deleteEntities(
    names: string[],
    signal?: AbortSignal,
  ): Promise<{ deleted: string[]; notFound: string[]; touched: string[] }> {
    return this.repository.write(async (tx) => {
      const { relations } = await tx.graph({ names: unique(names) });
      const deleted = await tx.deleteEntities(unique(names));
      return {
        deleted: names.filter((name) => deleted.has(name)),
        notFound: names.filter((name) => !deleted.has(name)),
        touched: unique(relations.flatMap((relation) => [relation.from, relation.to])).filter(
          (name) => !deleted.has(name),
        ),
      };
    }, signal);
  }

  /** Deletes the given observations; counts those that existed and names the entities that do not. */
  deleteObservations(
    deletions: ObservationDeletion[],
    signal?: AbortSignal,
  ): Promise<{ deletedCount: number; missingEntities: string[] }> {
    return this.repository.write(async (tx) => {
      const ids = await tx.entityIds(unique(deletions.map((deletion) => deletion.entityName)));
      let deletedCount = 0;
      const missingEntities: string[] = [];
      for (const { entityName, observations } of deletions) {
        const id = ids.get(entityName);
        if (id === undefined) missingEntities.push(entityName);
        else deletedCount += await tx.deleteObservations(id, unique(observations));
      }
      return { deletedCount, missingEntities };
    }, signal);
  }

  /** Deletes the given relations; counts those that existed. */
  deleteRelations(relations: Relation[], signal?: AbortSignal): Promise<{ deletedCount: number }> {
    return this.repository.write(async (tx) => {
      let deletedCount = 0;
      for (const relation of relations) deletedCount += await tx.deleteRelation(relation);
      return { deletedCount };
    }, signal);
  }

  /** The whole graph. */
  readGraph(signal?: AbortSignal): Promise<KnowledgeGraph> {
    return this.repository.read((tx) => tx.graph({ all: true }), signal);
  }

  /**
   * The whole graph, read `pageSize` entities at a time on one consistent snapshot (a graph too large for one
   * query's memory is read in parts; writes meanwhile are not seen). `onPage` hears the entities read so far
   * and the total after each page; the signal is checked between pages.
   */
  exportGraph(
    pageSize: number,
    onPage: (read: number, total: number) => void,
    signal?: AbortSignal,
  ): Promise<KnowledgeGraph> {
    return this.repository.read(async (tx) => {
      const total = await tx.countEntities();
      const graph: KnowledgeGraph = { entities: [], relations: [] };
      for (let afterId = 0; ;) {
        signal?.throwIfAborted();
        const { graph: page, lastId } = await tx.page(afterId, pageSize);
        if (lastId === undefined) return graph;
        graph.entities.push(...page.entities);
        graph.relations.push(...page.relations);
        onPage(graph.entities.length, Math.max(total, graph.entities.length));
        afterId = lastId;
      }
    }, signal);
  }

  /** Entities whose name, type or an observation contains `query` (ignoring case), and the relations touching them. */
  searchNodes(query: string, signal?: AbortSignal): Promise<KnowledgeGraph> {
    return this.repository.read((tx) => tx.graph({ search: query }), signal);
  }

  /** The entities with these exact names (unknown names are ignored) and the relations touching them. */
  openNodes(names: string[], signal?: AbortSignal): Promise<KnowledgeGraph> {
    return this.repository.read((tx) => tx.graph({ names: unique(names) }), signal);
  }

  /** One entity with its observations and the relations touching it; `NotFoundError` when there is none. */
  async entityDetails(name: string, signal?: AbortSignal): Promise<EntityDetails> {
    const { entities, relations } = await this.openNodes([name], signal);
    const [entity] = entities;
    if (!entity) throw entityNotFound(name);
    return { ...entity, relations };
  }

  /** Up to 100 entity names that start with `prefix`, ignoring case. */
  async completeEntityNames(prefix: string, signal?: AbortSignal): Promise<{ values: string[]; hasMore: boolean }> {
    const names = await this.repository.read((tx) => tx.entityNamesStartingWith(prefix, MAX_COMPLETIONS + 1), signal);
    return { values: names.slice(0, MAX_COMPLETIONS), hasMore: names.length > MAX_COMPLETIONS };
  }
}

/** The reference server's message for a missing entity. */
function entityNotFound(name: string): NotFoundError {
  return new NotFoundError(`Entity with name ${name} not found`);
}

function idOf(ids: Map<string, number>, name: string): number {
  const id = ids.get(name);
  if (id === undefined) throw entityNotFound(name);
  return id;
}

/** The distinct items, in the order they first appear. */
function unique<T>(items: T[]): T[] {
  return [...new Set(items)];
}
