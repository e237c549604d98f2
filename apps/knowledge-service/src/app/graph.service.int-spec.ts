import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { createScratchDatabase, type ScratchDatabase } from '@fabric/platform-persistence';
import { describeGraphSemantics } from '../testing/graph-semantics.suite';
import { openReplica, type GraphReplica } from '../testing/graph.fixtures';

jest.setTimeout(60_000);

describeGraphSemantics('PostgreSQL', () => {
  let database: ScratchDatabase | undefined;
  let replica: GraphReplica | undefined;
  return {
    open: async () => {
      database = await createScratchDatabase('knowledge_test');
      replica = await openReplica(database.url);
      return replica.graph;
    },
    close: async () => {
      await replica?.dataSource.destroy();
      await database?.drop();
    },
  };
});

/** Two replicas of the service on one database, and what removes them. */
interface Replicas {
  replicas: [GraphReplica, GraphReplica];
  close(): Promise<void>;
}

async function postgresReplicas(): Promise<Replicas> {
  const database = await createScratchDatabase('knowledge_test');
  const replicas = await Promise.all([openReplica(database.url), openReplica(database.url)]);
  return {
    replicas,
    close: async () => {
      await Promise.all(replicas.map((replica) => replica.dataSource.destroy()));
      await database.drop();
    },
  };
}

async function sqliteReplicas(): Promise<Replicas> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'knowledge-test-'));
  const url = `sqlite:${dir}/knowledge.sqlite`;
  const replicas = await Promise.all([openReplica(url), openReplica(url)]);
  return {
    replicas,
    close: async () => {
      await Promise.all(replicas.map((replica) => replica.dataSource.destroy()));
      await rm(dir, { recursive: true, force: true });
    },
  };
}

const ROUNDS = 100;

describe.each([
  ['PostgreSQL', postgresReplicas],
  ['SQLite', sqliteReplicas],
])('two replicas sharing one %s database', (_database, open) => {
  let shared: Replicas;

  beforeEach(async () => {
    shared = await open();
  });

  afterEach(async () => {
    await shared.close();
  });

  it('keep every observation both add to one entity at the same time', async () => {
    const [first, second] = shared.replicas;
    await first.graph.createEntities([{ name: 'Shared', entityType: 'thing', observations: [] }]);
    const expected: string[] = [];
    const calls = Array.from({ length: ROUNDS }, (_, round) =>
      shared.replicas.map((replica, index) => {
        const content = `replica ${index} round ${round}`;
        expected.push(content);
        return replica.graph.addObservations([{ entityName: 'Shared', contents: [content] }]);
      }),
    ).flat();
    await Promise.all(calls);
    const [entity] = (await second.graph.openNodes(['Shared'])).entities;
    expect([...(entity?.observations ?? [])].sort()).toEqual(expected.sort());
  });

  it('create an entity once when both create it at the same time', async () => {
    const entity = { name: 'Contested', entityType: 'thing', observations: ['first'] };
    const results = await Promise.all(
      Array.from({ length: 20 }, (_, i) => shared.replicas[i % 2].graph.createEntities([entity])),
    );
    expect(results.filter((result) => result.length === 1)).toHaveLength(1);
    expect((await shared.replicas[0].graph.readGraph()).entities).toEqual([entity]);
  });

  it('either add an observation before the other deletes its entity or report the entity missing', async () => {
    const [adder, deleter] = shared.replicas;
    const names = Array.from({ length: 30 }, (_, i) => `Doomed ${i}`);
    await adder.graph.createEntities(names.map((name) => ({ name, entityType: 'thing', observations: [] })));
    const outcomes = await Promise.allSettled(
      names.flatMap((name) => [
        adder.graph.addObservations([{ entityName: name, contents: ['late'] }]),
        deleter.graph.deleteEntities([name]),
      ]),
    );
    const failures = outcomes.filter((outcome): outcome is PromiseRejectedResult => outcome.status === 'rejected');
    expect(failures.map((failure) => (failure.reason as { code?: string }).code)).toEqual(
      failures.map(() => 'NOT_FOUND'),
    );
    expect(await adder.graph.readGraph()).toEqual({ entities: [], relations: [] });
  });
});
