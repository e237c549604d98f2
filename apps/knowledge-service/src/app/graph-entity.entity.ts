import { Column, Entity, PrimaryGeneratedColumn, Unique } from 'typeorm';

/** A node of the knowledge graph. Names are unique; `id` order is creation order. */
@Entity('knowledge_entity')
@Unique('uq_knowledge_entity_name', ['name'])
export class GraphEntityRecord {
  @PrimaryGeneratedColumn()
  id!: number;

  @Column({ type: 'text' })
  name!: string;

  @Column({ name: 'entity_type', type: 'text' })
  entityType!: string;

  // Lower-cased copies (JavaScript's toLowerCase) so that search matches like the reference server on
  // both databases: SQLite's LOWER() and LIKE fold ASCII only, PostgreSQL's depend on the locale.
  @Column({ name: 'name_lower', type: 'text' })
  nameLower!: string;

  @Column({ name: 'entity_type_lower', type: 'text' })
  entityTypeLower!: string;
}
