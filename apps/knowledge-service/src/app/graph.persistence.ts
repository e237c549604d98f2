import { GraphEntityRecord } from './graph-entity.entity';
import { CreateKnowledgeGraph1795255834892 } from './migrations/1795255834892-create-knowledge-graph';
import { ObservationRecord } from './observation.entity';
import { RelationRecord } from './relation.entity';

/** The knowledge graph's tables: entity classes and the migrations that create them, in order. */
export const graphPersistence = {
  entities: [GraphEntityRecord, ObservationRecord, RelationRecord],
  migrations: [CreateKnowledgeGraph1795255834892],
};
