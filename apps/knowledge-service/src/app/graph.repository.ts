import { Inject, Injectable } from '@nestjs/common';
import { createHash } from 'node:crypto';
import { DataSource, type EntityManager, type ObjectLiteral, type SelectQueryBuilder } from 'typeorm';
import { withTransaction } from '@fabric/platform-persistence';
import { GraphEntityRecord } from './graph-entity.entity';
import type { KnowledgeGraph, Relation } from './knowledge.schemas';
import { ObservationRecord } from './observation.entity';
import { RelationRecord } from './relation.entity';

/** Which entities a read selects: all, those with one of these exact names, or those a search query matches. */
export type EntitySelection = { all: true } | { names: string[] } | { search: string };

/** Rows per multi-row INSERT: far below SQLite's limit of 32766 bound parameters. */
const INSERT_CHUNK = 200;

/** Opens transactions on the knowledge graph's tables. */
@Injectable()
export class GraphRepository {
  constructor(@Inject(DataSource) private readonly dataSource: DataSource) {}

  /** Runs `work` in a write transaction; after a deadlock or a busy database it runs again from the start. */
  write<T>(work: (tx: GraphTransaction) => Promise<T>, signal?: AbortSignal): Promise<T> {
    return withTransaction(this.dataSource, (manager) => work(new GraphTransaction(manager)), { signal });
  }

  /** Runs `work` on one consistent snapshot of the graph. */
  read<T>(work: (tx: GraphTransaction) => Promise<T>, signal?: AbortSignal): Promise<T> {
    return withTransaction(this.dataSource, (manager) => work(new GraphTransaction(manager)), {
      isolation: 'REPEATABLE READ',
      signal,
    });
  }
}

/**
 * The graph's queries inside one transaction. Reads use TypeORM's query builder; writes are SQL that
 * PostgreSQL and SQLite both accept, because only `INSERT … ON CONFLICT DO NOTHING RETURNING` tells, on
 * both, which rows were new (the query builder has no RETURNING on SQLite).
 */
export class GraphTransaction {
  constructor(private readonly manager: EntityManager) {}

  /** Inserts an entity unless its name is taken; returns its id, or undefined when the name exists. */
  async insertEntity(name: string, entityType: string): Promise<number | undefined> {
    const rows = await this.returning<{ id: number }>(
      `INSERT INTO knowledge_entity (name, entity_type, name_lower, entity_type_lower)
       VALUES (:name, :entityType, :nameLower, :entityTypeLower)
       ON CONFLICT (name) DO NOTHING RETURNING id`,
      { name, entityType, nameLower: name.toLowerCase(), entityTypeLower: entityType.toLowerCase() },
    );
    return rows[0]?.id;
  }

  /** Ids of those named entities that exist. On PostgreSQL they cannot be deleted until this transaction ends. */
  async entityIds(names: string[]): Promise<Map<string, number>> {
    if (names.length === 0) return new Map();
    const query = this.manager
      .createQueryBuilder(GraphEntityRecord, 'e')
      .select(['e.id', 'e.name'])
      .where('e.name IN (:...names)', { names });
    // The lock a foreign key check takes: without it an entity deleted between this read and our insert
    // fails the insert. SQLite needs none: its writers take turns.
    if (this.manager.connection.options.type === 'postgres') query.setLock('for_key_share');
    const rows = await query.getMany();
    return new Map(rows.map((row) => [row.name, row.id]));
  }

  /** Adds those observations the entity does not have yet, after its others; returns them in the given order. */
  async insertObservations(entityId: number, contents: string[]): Promise<string[]> {
    const added = new Set<string>();
    for (let start = 0; start < contents.length; start += INSERT_CHUNK) {
      const parameters: ObjectLiteral = { entityId };
      const rows = contents.slice(start, start + INSERT_CHUNK).map((content, i) => {
        Object.assign(parameters, { [`c${i}`]: content, [`l${i}`]: content.toLowerCase(), [`h${i}`]: sha256(content) });
        return `(:entityId, :c${i}, :l${i}, :h${i})`;
      });
      const inserted = await this.returning<{ content: string }>(
        `INSERT INTO knowledge_observation (entity_id, content, content_lower, content_hash)
         VALUES ${rows.join(', ')}
         ON CONFLICT (entity_id, content_hash) DO NOTHING RETURNING content`,
        parameters,
      );
      for (const row of inserted) added.add(row.content);
    }
    return contents.filter((content) => added.has(content));
  }

  /** Inserts a relation unless it exists; true when it was new. */
  async insertRelation(fromId: number, toId: number, relationType: string): Promise<boolean> {
    const rows = await this.returning<{ id: number }>(
      `INSERT INTO knowledge_relation (from_id, to_id, relation_type)
       VALUES (:fromId, :toId, :relationType)
       ON CONFLICT (from_id, to_id, relation_type) DO NOTHING RETURNING id`,
      { fromId, toId, relationType },
    );
    return rows.length > 0;
  }

  /** Deletes the named entities with their observations and relations (by cascade); returns the names deleted. */
  async deleteEntities(names: string[]): Promise<Set<string>> {
    if (names.length === 0) return new Set();
    const rows = await this.returning<{ name: string }>(
      'DELETE FROM knowledge_entity WHERE name IN (:...names) RETURNING name',
      { names },
    );
    return new Set(rows.map((row) => row.name));
  }

  /** Deletes those of an entity's observations that match; returns how many. */
  async deleteObservations(entityId: number, contents: string[]): Promise<number> {
    if (contents.length === 0) return 0;
    const rows = await this.returning<{ id: number }>(
      'DELETE FROM knowledge_observation WHERE entity_id = :entityId AND content_hash IN (:...hashes) RETURNING id',
      { entityId, hashes: contents.map(sha256) },
    );
    return rows.length;
  }

  /** Deletes one relation; returns 1 when it existed, 0 otherwise. */
  async deleteRelation(relation: Relation): Promise<number> {
    const rows = await this.returning<{ id: number }>(
      `DELETE FROM knowledge_relation
       WHERE relation_type = :relationType
         AND from_id = (SELECT id FROM knowledge_entity WHERE name = :from)
         AND to_id = (SELECT id FROM knowledge_entity WHERE name = :to)
       RETURNING id`,
      { relationType: relation.relationType, from: relation.from, to: relation.to },
    );
    return rows.length;
  }

  /** The selected entities (creation order) with their observations (insertion order), and every relation touching one of them. */
  async graph(selection: EntitySelection): Promise<KnowledgeGraph> {
    const entities = await this.selected(selection, 'e')
      .select(['e.id', 'e.name', 'e.entityType'])
      .orderBy('e.id')
      .getMany();
    if (entities.length === 0) return { entities: [], relations: [] };
    const ids = this.selected(selection, 's').select('s.id');
    const observations = await this.manager
      .createQueryBuilder(ObservationRecord, 'o')
      .select(['o.id', 'o.entityId', 'o.content'])
      .where(`o.entityId IN (${ids.getQuery()})`)
      .setParameters(ids.getParameters())
      .orderBy('o.id')
      .getMany();
    const relations = await this.manager
      .createQueryBuilder(RelationRecord, 'r')
      .innerJoin('r.from', 'f')
      .innerJoin('r.to', 't')
      .select(['r.id', 'r.relationType', 'f.id', 'f.name', 't.id', 't.name'])
      .where(`r.fromId IN (${ids.getQuery()}) OR r.toId IN (${ids.getQuery()})`)
      .setParameters(ids.getParameters())
      .orderBy('r.id')
      .getMany();

    return toGraph(entities, observations, relations);
  }

  /** How many entities the graph holds. */
  countEntities(): Promise<number> {
    return this.manager.createQueryBuilder(GraphEntityRecord, 'e').getCount();
  }

  /**
   * One page of the whole graph, for reading it in parts: the first `limit` entities (creation order) after
   * the entity with id `afterId` (0: from the start), their observations, and the relations that start at
   * them (so that paging through the graph yields each relation once). `lastId` is where the next page
   * starts; undefined when this one is empty.
   */
  async page(afterId: number, limit: number): Promise<{ graph: KnowledgeGraph; lastId?: number }> {
    const entities = await this.manager
      .createQueryBuilder(GraphEntityRecord, 'e')
      .select(['e.id', 'e.name', 'e.entityType'])
      .where('e.id > :afterId', { afterId })
      .orderBy('e.id')
      .limit(limit)
      .getMany();
    if (entities.length === 0) return { graph: { entities: [], relations: [] } };
    const ids = entities.map((entity) => entity.id);
    const observations = await this.manager
      .createQueryBuilder(ObservationRecord, 'o')
      .select(['o.id', 'o.entityId', 'o.content'])
      .where('o.entityId IN (:...ids)', { ids })
      .orderBy('o.id')
      .getMany();
    const relations = await this.manager
      .createQueryBuilder(RelationRecord, 'r')
      .innerJoin('r.from', 'f')
      .innerJoin('r.to', 't')
      .select(['r.id', 'r.relationType', 'f.id', 'f.name', 't.id', 't.name'])
      .where('r.fromId IN (:...ids)', { ids })
      .orderBy('r.id')
      .getMany();
    return { graph: toGraph(entities, observations, relations), lastId: ids[ids.length - 1] };
  }

  /** Names of entities that start with `prefix`, ignoring case, in name order. */
  async entityNamesStartingWith(prefix: string, limit: number): Promise<string[]> {
    const rows = await this.manager
      .createQueryBuilder(GraphEntityRecord, 'e')
      .select(['e.id', 'e.name'])
      .where(`e.nameLower LIKE :pattern ESCAPE '\\'`, { pattern: `${escapeLike(prefix.toLowerCase())}%` })
      .orderBy('e.name')
      .limit(limit)
      .getMany();
    return rows.map((row) => row.name);
  }

  private selected(selection: EntitySelection, alias: string): SelectQueryBuilder<GraphEntityRecord> {
    const query = this.manager.createQueryBuilder(GraphEntityRecord, alias);
    if ('names' in selection) {
      return selection.names.length > 0
        ? query.where(`${alias}.name IN (:...names)`, { names: selection.names })
        : query.where('1 = 0');
    }
    if ('search' in selection) {
      // Substring match of the lower-cased query, as the reference server does in JavaScript.
      return query.where(
        `${alias}.nameLower LIKE :pattern ESCAPE '\\' OR ${alias}.entityTypeLower LIKE :pattern ESCAPE '\\'
         OR EXISTS (SELECT 1 FROM knowledge_observation so WHERE so.entity_id = ${alias}.id AND so.content_lower LIKE :pattern ESCAPE '\\')`,
        { pattern: `%${escapeLike(selection.search.toLowerCase())}%` },
      );
    }
    return query;
  }

  private async returning<T>(sql: string, parameters: ObjectLiteral): Promise<T[]> {
    const runner = this.manager.queryRunner;
    if (!runner) throw new Error('GraphTransaction used outside a transaction');
    const [query, values] = this.manager.connection.driver.escapeQueryWithParameters(sql, parameters);
    const result = await runner.query(query, values, true);
    return (result.records ?? []) as T[];
  }
}

/** The graph of the rows read: each entity with its observations (in the order read), and the relations. */
function toGraph(
  entities: GraphEntityRecord[],
  observations: ObservationRecord[],
  relations: RelationRecord[],
): KnowledgeGraph {
  const observationsOf = new Map<number, string[]>();
  for (const observation of observations) {
    const list = observationsOf.get(observation.entityId) ?? [];
    list.push(observation.content);
    observationsOf.set(observation.entityId, list);
  }
  return {
    entities: entities.map((entity) => ({
      name: entity.name,
      entityType: entity.entityType,
      observations: observationsOf.get(entity.id) ?? [],
    })),
    relations: relations.map((relation) => ({
      from: relation.from?.name ?? '',
      to: relation.to?.name ?? '',
      relationType: relation.relationType,
    })),
  };
}

function sha256(text: string): string {
  return createHash('sha256').update(text, 'utf8').digest('hex');
}

function escapeLike(text: string): string {
  return text.replace(/[\\%_]/g, (character) => `\\${character}`);
}
