import type { MigrationInterface, QueryRunner } from 'typeorm';

/** The audit trail: one row per event id. The same SQL serves PostgreSQL and SQLite. */
export class CreateAuditEvents1796200000000 implements MigrationInterface {
  async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`
      CREATE TABLE audit_events (
        id VARCHAR(64) PRIMARY KEY,
        time VARCHAR(30) NOT NULL,
        operation VARCHAR(32) NOT NULL,
        principal_subject TEXT,
        principal_issuer TEXT,
        principal_client TEXT,
        session VARCHAR(64),
        service TEXT,
        target TEXT,
        arguments_hash VARCHAR(64),
        arguments_bytes INTEGER,
        arguments_json TEXT,
        outcome VARCHAR(16) NOT NULL,
        error_code TEXT,
        cached BOOLEAN NOT NULL,
        duration_ms DOUBLE PRECISION NOT NULL,
        gateway TEXT NOT NULL,
        service_instance TEXT,
        trace_id VARCHAR(32)
      )`);
    await queryRunner.query('CREATE INDEX ix_audit_events_time ON audit_events (time)');
    await queryRunner.query('CREATE INDEX ix_audit_events_principal ON audit_events (principal_subject)');
    await queryRunner.query('CREATE INDEX ix_audit_events_target ON audit_events (target)');
    await queryRunner.query('CREATE INDEX ix_audit_events_outcome ON audit_events (outcome)');
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query('DROP TABLE audit_events');
  }
}
