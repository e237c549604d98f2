import { All, Controller, Inject, Req, Res } from '@nestjs/common';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { McpEndpoint } from './mcp.endpoint';

/** The MCP endpoint as a Nest route, for when requests go through Express to be logged (see `McpEndpoint`). */
@Controller('mcp')
export class McpController {
  constructor(@Inject(McpEndpoint) private readonly endpoint: McpEndpoint) {}

  @All()
  handle(@Req() req: IncomingMessage, @Res() res: ServerResponse): Promise<void> {
    return this.endpoint.handle(req, res);
  }
}
