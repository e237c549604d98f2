import { bootstrapService } from '@fabric/service-kit';
import { AppModule } from './app/app.module';
void bootstrapService(AppModule, {
  service: 'knowledge',
  version: '1.0.0',
  title: 'Knowledge graph',
  description: 'A knowledge-graph memory: entities, relations and observations.',
});
