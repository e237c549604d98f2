import type { MigrationInterface, QueryRunner } from 'typeorm';

/** Entities, their observations and the relations between them. The same SQL serves PostgreSQL and SQLite but for the id column. */
export class CreateKnowledgeGraph1795255834892 implements MigrationInterface {
  async up(queryRunner: QueryRunner): Promise<void> {
    // AUTOINCREMENT: SQLite never reuses the id of a deleted row, so id order stays creation order.
    const id =
      queryRunner.connection.options.type === 'postgres' ? 'SERIAL PRIMARY KEY' : 'INTEGER PRIMARY KEY AUTOINCREMENT';
    await queryRunner.query(`
      CREATE TABLE knowledge_entity (
        id ${id},
        name TEXT NOT NULL,
        entity_type TEXT NOT NULL,
        name_lower TEXT NOT NULL,
        entity_type_lower TEXT NOT NULL,
        CONSTRAINT uq_knowledge_entity_name UNIQUE (name)
      )`);
    await queryRunner.query(`
      CREATE TABLE knowledge_observation (
        id ${id},
        entity_id INTEGER NOT NULL REFERENCES knowledge_entity (id) ON DELETE CASCADE,
        content TEXT NOT NULL,
        content_lower TEXT NOT NULL,
        content_hash VARCHAR(64) NOT NULL,
        CONSTRAINT uq_knowledge_observation_content UNIQUE (entity_id, content_hash)
      )`);
    await queryRunner.query(`
      CREATE TABLE knowledge_relation (
        id ${id},
        from_id INTEGER NOT NULL REFERENCES knowledge_entity (id) ON DELETE CASCADE,
        to_id INTEGER NOT NULL REFERENCES knowledge_entity (id) ON DELETE CASCADE,
        relation_type TEXT NOT NULL,
        CONSTRAINT uq_knowledge_relation UNIQUE (from_id, to_id, relation_type)
      )`);
    // Deleting an entity looks up the relations pointing at it; those leaving it use the unique index.
    await queryRunner.query('CREATE INDEX ix_knowledge_relation_to ON knowledge_relation (to_id)');
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query('DROP TABLE knowledge_relation');
    await queryRunner.query('DROP TABLE knowledge_observation');
    await queryRunner.query('DROP TABLE knowledge_entity');
  }
}
