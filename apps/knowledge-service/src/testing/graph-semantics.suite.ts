import type { GraphService } from '../app/graph.service';
import { acme, alice, aliceKnowsBob, aliceWorksAtAcme, bob, seed } from './graph.fixtures';

/** What the reference server's "not found" failure looks like here: a NotFoundError with its message. */
const entityNotFound = (name: string) =>
  expect.objectContaining({ name: 'NotFoundError', code: 'NOT_FOUND', message: `Entity with name ${name} not found` });

/** A fresh, empty graph for each test, and what removes it afterwards. */
export interface GraphBackend {
  open(): Promise<GraphService>;
  close(): Promise<void>;
}

/** The reference memory server's semantics, checked against one database. */
export function describeGraphSemantics(database: string, backend: () => GraphBackend): void {
  describe(`GraphService on ${database}`, () => {
    let current: GraphBackend;
    let graph: GraphService;

    beforeEach(async () => {
      current = backend();
      graph = await current.open();
    });

    afterEach(async () => {
      await current.close();
    });

    describe('createEntities', () => {
      it('stores new entities with their observations in the given order', async () => {
        expect(await graph.createEntities([alice, bob])).toEqual([alice, bob]);
        expect(await graph.readGraph()).toEqual({ entities: [alice, bob], relations: [] });
      });

      it('skips an entity whose name exists and leaves the stored one unchanged', async () => {
        await graph.createEntities([alice]);
        const result = await graph.createEntities([{ ...alice, observations: ['allergic to penicillin'] }, bob]);
        expect(result).toEqual([bob]);
        expect((await graph.openNodes(['Alice'])).entities).toEqual([alice]);
      });

      it('keeps the first of two same-named entities in one batch and skips the second', async () => {
        const result = await graph.createEntities([alice, { ...alice, entityType: 'robot', observations: ['beeps'] }]);
        expect(result).toEqual([alice]);
        expect(await graph.readGraph()).toEqual({ entities: [alice], relations: [] });
      });

      it('stores an observation repeated within one entity once', async () => {
        const result = await graph.createEntities([{ ...bob, observations: ['x', 'y', 'x'] }]);
        expect(result).toEqual([{ ...bob, observations: ['x', 'y'] }]);
      });

      it('treats names as case-sensitive', async () => {
        expect(await graph.createEntities([alice, { ...alice, name: 'alice' }])).toEqual([
          alice,
          { ...alice, name: 'alice' },
        ]);
      });
    });

    describe('createRelations', () => {
      beforeEach(async () => {
        await graph.createEntities([alice, bob, acme]);
      });

      it('returns the relations it created', async () => {
        expect(await graph.createRelations([aliceKnowsBob, aliceWorksAtAcme])).toEqual([
          aliceKnowsBob,
          aliceWorksAtAcme,
        ]);
      });

      it('skips relations that exist or repeat within the batch', async () => {
        await graph.createRelations([aliceKnowsBob]);
        expect(await graph.createRelations([aliceKnowsBob, aliceWorksAtAcme, aliceWorksAtAcme])).toEqual([
          aliceWorksAtAcme,
        ]);
        expect((await graph.readGraph()).relations).toEqual([aliceKnowsBob, aliceWorksAtAcme]);
      });

      it('treats another relation type between the same pair as a new relation', async () => {
        await graph.createRelations([aliceKnowsBob]);
        const aliceManagesBob = { ...aliceKnowsBob, relationType: 'manages' };
        expect(await graph.createRelations([aliceManagesBob])).toEqual([aliceManagesBob]);
      });

      it('fails the whole batch, creating nothing, when an endpoint is missing', async () => {
        const attempt = graph.createRelations([aliceKnowsBob, { from: 'Alice', to: 'Zed', relationType: 'x' }]);
        await expect(attempt).rejects.toEqual(entityNotFound('Zed'));
        expect((await graph.readGraph()).relations).toEqual([]);
      });

      it('names the source before the target when both are missing', async () => {
        await expect(graph.createRelations([{ from: 'Yan', to: 'Zed', relationType: 'x' }])).rejects.toEqual(
          entityNotFound('Yan'),
        );
      });
    });

    describe('addObservations', () => {
      beforeEach(async () => {
        await graph.createEntities([alice, bob]);
      });

      it('adds only observations the entity lacks, after its existing ones', async () => {
        const results = await graph.addObservations([
          { entityName: 'Alice', contents: ['likes tea', 'plays chess'] },
          { entityName: 'Bob', contents: ['likes programming'] },
        ]);
        expect(results).toEqual([
          { entityName: 'Alice', addedObservations: ['plays chess'] },
          { entityName: 'Bob', addedObservations: [] },
        ]);
        expect((await graph.openNodes(['Alice'])).entities[0]?.observations).toEqual([
          ...alice.observations,
          'plays chess',
        ]);
      });

      it('fails the whole batch, saving nothing, when an entity is missing', async () => {
        const attempt = graph.addObservations([
          { entityName: 'Alice', contents: ['plays chess'] },
          { entityName: 'Zed', contents: ['unknown'] },
        ]);
        await expect(attempt).rejects.toEqual(entityNotFound('Zed'));
        expect(await graph.readGraph()).toEqual({ entities: [alice, bob], relations: [] });
      });

      it('reports an observation repeated within one call once', async () => {
        expect(await graph.addObservations([{ entityName: 'Bob', contents: ['z', 'z'] }])).toEqual([
          { entityName: 'Bob', addedObservations: ['z'] },
        ]);
      });

      it('keeps an observation that is long and full of special characters intact', async () => {
        const long = `100% _sure_ \\ 'quoted' ${'é'.repeat(5000)}`;
        await graph.addObservations([{ entityName: 'Bob', contents: [long] }]);
        expect((await graph.openNodes(['Bob'])).entities[0]?.observations).toEqual([...bob.observations, long]);
      });

      it('moves an observation deleted and added again to the end', async () => {
        await graph.deleteObservations([{ entityName: 'Alice', observations: ['works at Acme Corp'] }]);
        await graph.addObservations([{ entityName: 'Alice', contents: ['works at Acme Corp'] }]);
        expect((await graph.openNodes(['Alice'])).entities[0]?.observations).toEqual([
          'likes tea',
          'works at Acme Corp',
        ]);
      });
    });

    describe('deleteEntities', () => {
      beforeEach(() => seed(graph));

      it('deletes the entities with their observations and every relation touching them, naming the other ends', async () => {
        expect(await graph.deleteEntities(['Alice'])).toEqual({
          deleted: ['Alice'],
          notFound: [],
          touched: ['Bob', 'Acme Corp'],
        });
        expect(await graph.readGraph()).toEqual({ entities: [bob, acme], relations: [] });
      });

      it('reports the names it did not find and deletes the others', async () => {
        expect(await graph.deleteEntities(['Bob', 'Zed', 'Yan'])).toEqual({
          deleted: ['Bob'],
          notFound: ['Zed', 'Yan'],
          touched: ['Alice'],
        });
        expect(await graph.readGraph()).toEqual({ entities: [alice, acme], relations: [aliceWorksAtAcme] });
      });

      it('lets a deleted name be created again, without its old observations', async () => {
        await graph.deleteEntities(['Bob']);
        await graph.createEntities([{ ...bob, observations: [] }]);
        expect((await graph.openNodes(['Bob'])).entities).toEqual([{ ...bob, observations: [] }]);
      });
    });

    describe('deleteObservations', () => {
      beforeEach(() => seed(graph));

      it('removes the observations and counts those that existed', async () => {
        const result = await graph.deleteObservations([
          { entityName: 'Alice', observations: ['likes tea', 'never said'] },
        ]);
        expect(result).toEqual({ deletedCount: 1, missingEntities: [] });
        expect((await graph.openNodes(['Alice'])).entities[0]?.observations).toEqual(['works at Acme Corp']);
      });

      it('names the entities that do not exist', async () => {
        const result = await graph.deleteObservations([
          { entityName: 'Bob', observations: ['likes programming'] },
          { entityName: 'Zed', observations: ['a', 'b'] },
        ]);
        expect(result).toEqual({ deletedCount: 1, missingEntities: ['Zed'] });
      });
    });

    describe('deleteRelations', () => {
      beforeEach(() => seed(graph));

      it('deletes exact matches only and counts them', async () => {
        const result = await graph.deleteRelations([aliceKnowsBob, { ...aliceWorksAtAcme, relationType: 'likes' }]);
        expect(result).toEqual({ deletedCount: 1 });
        expect((await graph.readGraph()).relations).toEqual([aliceWorksAtAcme]);
      });

      it('counts a relation listed twice once', async () => {
        expect(await graph.deleteRelations([aliceKnowsBob, aliceKnowsBob])).toEqual({ deletedCount: 1 });
      });
    });

    describe('readGraph', () => {
      it('returns an empty graph for an empty database', async () => {
        expect(await graph.readGraph()).toEqual({ entities: [], relations: [] });
      });

      it('returns entities and relations in creation order', async () => {
        await seed(graph);
        expect(await graph.readGraph()).toEqual({
          entities: [alice, bob, acme],
          relations: [aliceKnowsBob, aliceWorksAtAcme],
        });
      });
    });

    describe('exportGraph', () => {
      it('reads the whole graph page by page, each relation once, the same as readGraph', async () => {
        await seed(graph);
        await graph.createRelations([{ from: 'Bob', to: 'Acme Corp', relationType: 'visits' }]);
        const pages: [number, number][] = [];
        const exported = await graph.exportGraph(1, (read, total) => pages.push([read, total]));
        expect(exported).toEqual(await graph.readGraph());
        expect(pages).toEqual([
          [1, 3],
          [2, 3],
          [3, 3],
        ]);
      });

      it('exports an empty graph without reporting a page', async () => {
        const pages: number[] = [];
        expect(await graph.exportGraph(10, (read) => pages.push(read))).toEqual({ entities: [], relations: [] });
        expect(pages).toEqual([]);
      });
    });

    describe('searchNodes', () => {
      beforeEach(() => seed(graph));

      it('matches names ignoring case and returns every relation touching a match', async () => {
        expect(await graph.searchNodes('bob')).toEqual({ entities: [bob], relations: [aliceKnowsBob] });
      });

      it('matches entity types', async () => {
        expect(await graph.searchNodes('ORGANIZATION')).toEqual({ entities: [acme], relations: [aliceWorksAtAcme] });
      });

      it('matches observation content ignoring case', async () => {
        expect(await graph.searchNodes('ANVIL')).toEqual({ entities: [acme], relations: [aliceWorksAtAcme] });
      });

      it('matches the whole query as one substring', async () => {
        expect(await graph.searchNodes('person')).toEqual({
          entities: [alice, bob],
          relations: [aliceKnowsBob, aliceWorksAtAcme],
        });
        expect(await graph.searchNodes('Alice tea')).toEqual({ entities: [], relations: [] });
      });

      it('treats % and _ in the query as plain characters', async () => {
        await graph.createEntities([{ name: 'Quota', entityType: 'metric', observations: ['100%_used'] }]);
        expect((await graph.searchNodes('%_')).entities.map((entity) => entity.name)).toEqual(['Quota']);
        expect((await graph.searchNodes('works_at')).entities).toEqual([]);
      });

      it('ignores case beyond ASCII as JavaScript does', async () => {
        await graph.createEntities([{ name: 'École Polytechnique', entityType: 'school', observations: ['ΣΟΦΙΑ'] }]);
        expect((await graph.searchNodes('école')).entities.map((entity) => entity.name)).toEqual([
          'École Polytechnique',
        ]);
        expect((await graph.searchNodes('σοφια')).entities.map((entity) => entity.name)).toEqual([
          'École Polytechnique',
        ]);
      });

      it('matches every entity with an empty query', async () => {
        expect((await graph.searchNodes('')).entities).toEqual([alice, bob, acme]);
      });
    });

    describe('openNodes', () => {
      beforeEach(() => seed(graph));

      it('returns the named entities and every relation touching them', async () => {
        expect(await graph.openNodes(['Bob'])).toEqual({ entities: [bob], relations: [aliceKnowsBob] });
      });

      it('matches names exactly and ignores names that do not exist', async () => {
        expect(await graph.openNodes(['alice', 'Acme Corp', 'Zed'])).toEqual({
          entities: [acme],
          relations: [aliceWorksAtAcme],
        });
      });

      it('returns an empty graph for an empty list', async () => {
        expect(await graph.openNodes([])).toEqual({ entities: [], relations: [] });
      });
    });

    describe('entityDetails', () => {
      beforeEach(() => seed(graph));

      it('returns the entity with its observations and the relations touching it', async () => {
        expect(await graph.entityDetails('Bob')).toEqual({ ...bob, relations: [aliceKnowsBob] });
      });

      it('throws NotFoundError for an unknown name', async () => {
        await expect(graph.entityDetails('Zed')).rejects.toEqual(entityNotFound('Zed'));
      });
    });

    describe('completeEntityNames', () => {
      it('returns the names starting with the prefix, ignoring case, in name order', async () => {
        await graph.createEntities(
          ['Alan', 'bob', 'alice', 'Malory'].map((name) => ({ name, entityType: 'person', observations: [] })),
        );
        expect(await graph.completeEntityNames('AL')).toEqual({ values: ['Alan', 'alice'], hasMore: false });
      });

      it('returns at most 100 names and says when there are more', async () => {
        const names = Array.from({ length: 101 }, (_, i) => `n${String(i).padStart(3, '0')}`);
        await graph.createEntities(names.map((name) => ({ name, entityType: 'thing', observations: [] })));
        expect(await graph.completeEntityNames('N')).toEqual({ values: names.slice(0, 100), hasMore: true });
      });

      it('treats % and _ in the prefix as plain characters', async () => {
        await graph.createEntities(['a_b', 'axb'].map((name) => ({ name, entityType: 'thing', observations: [] })));
        expect(await graph.completeEntityNames('a_')).toEqual({ values: ['a_b'], hasMore: false });
      });
    });
  });
}
