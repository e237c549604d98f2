import { Module } from '@nestjs/common';
import { CatalogModule } from '../catalog/catalog.module';
import { RoutingModule } from '../routing/routing.module';
import { ArgumentValidator } from './argument.validator';
import { ClientRequests } from './client-requests';
import { EventLog } from './event-log';
import { McpController } from './mcp.controller';
import { McpEndpoint } from './mcp.endpoint';
import { McpServerFactory } from './mcp-server.factory';
import { McpSessions } from './mcp.sessions';
import { SessionStore } from './session.store';

/** The MCP edge: the only module that knows the MCP SDK and the Streamable HTTP transport. */
@Module({
  imports: [CatalogModule, RoutingModule],
  controllers: [McpController],
  providers: [ArgumentValidator, ClientRequests, EventLog, McpEndpoint, McpServerFactory, McpSessions, SessionStore],
})
export class McpModule {}
