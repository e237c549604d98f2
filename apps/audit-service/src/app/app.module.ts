import { Module } from '@nestjs/common';
import { loadConfig } from '@fabric/platform-config';
import { PersistenceModule } from '@fabric/platform-persistence';
import { AUDIT_ENV, auditEnvSchema } from './audit.config';
import { AuditConsumer } from './audit.consumer';
import { auditPersistence } from './audit.persistence';
import { AuditRepository } from './audit.repository';
import { AuditRetention } from './audit.retention';
import { AuditTools } from './audit.tools';

/**
 * The audit service: stores the gateways' audit events from JetStream in the database `DATABASE_URL` names, and
 * serves them as MCP tools and a resource (scope `audit:read`).
 */
@Module({
  imports: [PersistenceModule.forRoot({ ...auditPersistence, defaultSqliteFile: 'audit.sqlite' })],
  providers: [
    { provide: AUDIT_ENV, useFactory: () => loadConfig(auditEnvSchema) },
    AuditRepository,
    AuditConsumer,
    AuditRetention,
    AuditTools,
  ],
})
export class AppModule {}
