// fastmcp (stateful httpStream, its default) with the bench's `echo` tool on 127.0.0.1:PORT/mcp.
import { FastMCP } from 'fastmcp';
import { z } from 'zod';

const server = new FastMCP({
  name: 'fastmcp-echo',
  version: '1.0.0',
  logger: { debug() {}, info() {}, log() {}, warn() {}, error: console.error },
});
server.addTool({
  name: 'echo',
  description: 'Returns the text it is given.',
  parameters: z.object({ text: z.string() }),
  execute: async ({ text }) => text,
});
await server.start({
  transportType: 'httpStream',
  httpStream: { port: Number(process.env.PORT ?? 3000), host: '127.0.0.1', endpoint: '/mcp' },
});
