import type { DataSource } from 'typeorm';
import { openDataSource } from '@fabric/platform-persistence';
import { detachedCallContext, type CallContext } from '@fabric/service-kit';
import { graphPersistence } from '../app/graph.persistence';
import { GraphRepository } from '../app/graph.repository';
import { GraphService } from '../app/graph.service';

// The reference server's own test data.
export const alice = { name: 'Alice', entityType: 'person', observations: ['works at Acme Corp', 'likes tea'] };
export const bob = { name: 'Bob', entityType: 'person', observations: ['likes programming'] };
export const acme = { name: 'Acme Corp', entityType: 'organization', observations: ['makes anvils'] };
export const aliceKnowsBob = { from: 'Alice', to: 'Bob', relationType: 'knows' };
export const aliceWorksAtAcme = { from: 'Alice', to: 'Acme Corp', relationType: 'works_at' };

/** A graph service on its own migrated database, as one replica of the service would have it. */
export interface GraphReplica {
  dataSource: DataSource;
  graph: GraphService;
}

export async function openReplica(url: string): Promise<GraphReplica> {
  const dataSource = await openDataSource(url, graphPersistence);
  return { dataSource, graph: new GraphService(new GraphRepository(dataSource)) };
}

/** Alice, Bob and Acme Corp, and two relations from Alice. */
export async function seed(graph: GraphService): Promise<void> {
  await graph.createEntities([alice, bob, acme]);
  await graph.createRelations([aliceKnowsBob, aliceWorksAtAcme]);
}

export function callContext(): CallContext {
  return detachedCallContext({ callId: 'x', deadline: Date.now() + 5000 });
}
