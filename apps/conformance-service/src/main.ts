import { bootstrapService } from '@fabric/service-kit';
import { AppModule } from './app/app.module';

void bootstrapService(AppModule, {
  service: 'conformance',
  version: '1.0.0',
  title: 'Conformance fixtures',
  description:
    'The tools, resources and prompts the official MCP conformance suite expects (run with TOOL_NAME_PREFIX=false).',
});
