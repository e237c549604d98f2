import { Column, Entity, JoinColumn, ManyToOne, PrimaryGeneratedColumn, Unique } from 'typeorm';
import { GraphEntityRecord } from './graph-entity.entity';

/**
 * One observation of an entity, in a row of its own so that replicas adding observations to the same
 * entity never overwrite each other. Unique per entity (by hash: PostgreSQL cannot index long text);
 * `id` order is insertion order.
 */
@Entity('knowledge_observation')
@Unique('uq_knowledge_observation_content', ['entityId', 'contentHash'])
export class ObservationRecord {
  @PrimaryGeneratedColumn()
  id!: number;

  @Column({ name: 'entity_id', type: 'integer' })
  entityId!: number;

  @ManyToOne(() => GraphEntityRecord, { onDelete: 'CASCADE', nullable: false })
  @JoinColumn({ name: 'entity_id' })
  entity?: GraphEntityRecord;

  @Column({ type: 'text' })
  content!: string;

  @Column({ name: 'content_lower', type: 'text' })
  contentLower!: string;

  /** SHA-256 of `content`, hex. */
  @Column({ name: 'content_hash', type: 'varchar', length: 64 })
  contentHash!: string;
}
