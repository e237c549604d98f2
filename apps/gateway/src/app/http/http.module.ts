import { Module } from '@nestjs/common';
import { IdentityModule } from '../identity/identity.module';
import { ProtocolModule } from '../protocol/protocol.module';
import { McpEndpoint } from './mcp.endpoint';

/** The MCP endpoint on the HTTP server. */
@Module({ imports: [IdentityModule, ProtocolModule], providers: [McpEndpoint] })
export class HttpModule {}
