import { bootstrapService } from '@fabric/service-kit';
import { AppModule } from './app/app.module';

void bootstrapService(AppModule, {
  service: process.env['TESTBED_SERVICE_NAME'] ?? 'testbed',
  version: '1.0.0',
  title: 'Testbed',
  description: 'Fixture tools for tests and benchmarks: echo, a slow tool that honours its deadline, a failing tool.',
});
