import { bootstrapService } from '@fabric/service-kit';
import { AppModule } from './app/app.module';
void bootstrapService(AppModule, {
  service: 'audit',
  version: '1.0.0',
  title: 'Audit trail',
  description: 'Stores the gateways’ audit events and answers queries over them (scope audit:read).',
});
