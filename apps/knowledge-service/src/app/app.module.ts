import { Module } from '@nestjs/common';
import { PersistenceModule } from '@fabric/platform-persistence';
import { graphPersistence } from './graph.persistence';
import { GraphRepository } from './graph.repository';
import { GraphService } from './graph.service';
import { KnowledgeTools } from './knowledge.tools';

/** The knowledge service: a knowledge graph in the database `DATABASE_URL` names, served as MCP tools by the kit. */
@Module({
  imports: [PersistenceModule.forRoot({ ...graphPersistence, defaultSqliteFile: 'knowledge.sqlite' })],
  providers: [GraphRepository, GraphService, KnowledgeTools],
})
export class AppModule {}
