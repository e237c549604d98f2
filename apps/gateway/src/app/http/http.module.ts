import { Module } from '@nestjs/common';
import { CatalogModule } from '../catalog/catalog.module';
import { FleetModule } from '../fleet/fleet.module';
import { IdentityModule } from '../identity/identity.module';
import { ProtocolModule } from '../protocol/protocol.module';
import { TasksModule } from '../tasks/tasks.module';
import { AdminController } from './admin/admin.controller';
import { AdminFeed } from './admin/admin.feed';
import { AdminSnapshots } from './admin/admin.snapshot';
import { McpEndpoint } from './mcp.endpoint';

/** The MCP endpoint on the HTTP server, and the admin page. */
@Module({
  imports: [CatalogModule, FleetModule, IdentityModule, ProtocolModule, TasksModule],
  controllers: [AdminController],
  providers: [McpEndpoint, AdminFeed, AdminSnapshots],
})
export class HttpModule {}
