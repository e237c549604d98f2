import { Module } from '@nestjs/common';
import { ProtocolModule } from '../protocol/protocol.module';
import { McpEndpoint } from './mcp.endpoint';

/** The MCP endpoint on the HTTP server. */
@Module({ imports: [ProtocolModule], providers: [McpEndpoint] })
export class HttpModule {}
