import { Column, Entity, Index, JoinColumn, ManyToOne, PrimaryGeneratedColumn, Unique } from 'typeorm';
import { GraphEntityRecord } from './graph-entity.entity';

/** A directed, typed edge between two entities; deleting either entity deletes it. `id` order is creation order. */
@Entity('knowledge_relation')
@Unique('uq_knowledge_relation', ['fromId', 'toId', 'relationType'])
@Index('ix_knowledge_relation_to', ['toId'])
export class RelationRecord {
  @PrimaryGeneratedColumn()
  id!: number;

  @Column({ name: 'from_id', type: 'integer' })
  fromId!: number;

  @ManyToOne(() => GraphEntityRecord, { onDelete: 'CASCADE', nullable: false })
  @JoinColumn({ name: 'from_id' })
  from?: GraphEntityRecord;

  @Column({ name: 'to_id', type: 'integer' })
  toId!: number;

  @ManyToOne(() => GraphEntityRecord, { onDelete: 'CASCADE', nullable: false })
  @JoinColumn({ name: 'to_id' })
  to?: GraphEntityRecord;

  @Column({ name: 'relation_type', type: 'text' })
  relationType!: string;
}
