import { AuditEventRecord } from './audit-event.entity';
import { CreateAuditEvents1796200000000 } from './migrations/1796200000000-create-audit-events';

/** The audit trail's table: its entity class and the migrations that create it, in order. */
export const auditPersistence = {
  entities: [AuditEventRecord],
  migrations: [CreateAuditEvents1796200000000],
  // Compose and small installations put it in the knowledge service's database: its own record of migrations.
  migrationsTableName: 'audit_migrations',
};
