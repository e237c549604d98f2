// The direct single-process peer: an @modelcontextprotocol/sdk server with the bench's `echo` tool, as the
// SDK documents it: Express from `createMcpExpressApp()` (JSON body parser, host checks) and the SDK's
// default answers (an SSE stream per request). MODE=stateful keeps one server and transport per session
// (Mcp-Session-Id); MODE=stateless builds a server and a transport for every request. HTTP=bare serves
// the same handlers on bare node:http instead of Express (body parsed once), the leanest SDK server.
import { randomUUID } from 'node:crypto';
import { createServer } from 'node:http';
import { createMcpExpressApp } from '@modelcontextprotocol/sdk/server/express.js';
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { StreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/streamableHttp.js';
import { isInitializeRequest } from '@modelcontextprotocol/sdk/types.js';
import { z } from 'zod';

const mode = process.env.MODE ?? 'stateful';
const port = Number(process.env.PORT ?? 3000);

function echoServer() {
  const server = new McpServer({ name: 'sdk-echo', version: '1.0.0' });
  server.registerTool(
    'echo',
    { description: 'Returns the text it is given.', inputSchema: { text: z.string() } },
    async ({ text }) => ({ content: [{ type: 'text', text }] }),
  );
  return server;
}

function readJson(req) {
  return new Promise((resolve, reject) => {
    const chunks = [];
    req.on('data', (chunk) => chunks.push(chunk));
    req.on('end', () => {
      try {
        resolve(JSON.parse(Buffer.concat(chunks).toString('utf8')));
      } catch (error) {
        reject(error);
      }
    });
    req.on('error', reject);
  });
}

function fail(res, status, message) {
  res.writeHead(status, { 'content-type': 'application/json' });
  res.end(JSON.stringify({ jsonrpc: '2.0', error: { code: -32000, message }, id: null }));
}

const sessions = new Map();

async function stateful(req, res, body) {
  const id = req.headers['mcp-session-id'];
  let transport = typeof id === 'string' ? sessions.get(id) : undefined;
  if (!transport) {
    if (id !== undefined || !isInitializeRequest(body))
      return fail(res, id === undefined ? 400 : 404, 'No valid session');
    transport = new StreamableHTTPServerTransport({
      sessionIdGenerator: () => randomUUID(),
      onsessioninitialized: (sessionId) => sessions.set(sessionId, transport),
    });
    transport.onclose = () => sessions.delete(transport.sessionId);
    await echoServer().connect(transport);
  }
  await transport.handleRequest(req, res, body);
}

async function stateless(req, res, body) {
  const server = echoServer();
  const transport = new StreamableHTTPServerTransport({ sessionIdGenerator: undefined });
  res.on('close', () => {
    void transport.close();
    void server.close();
  });
  await server.connect(transport);
  await transport.handleRequest(req, res, body);
}

const handle = mode === 'stateless' ? stateless : stateful;

if (process.env.HTTP === 'bare') {
  createServer(async (req, res) => {
    try {
      if (req.url === '/healthz') return res.end('ok');
      if (req.url !== '/mcp') return fail(res, 404, 'Not found');
      if (req.method !== 'POST') return fail(res, 405, 'Method not allowed');
      await handle(req, res, await readJson(req));
    } catch (error) {
      if (!res.headersSent) fail(res, 500, String(error?.message ?? error));
    }
  }).listen(port, '127.0.0.1');
} else {
  const app = createMcpExpressApp();
  app.post('/mcp', async (req, res) => {
    try {
      await handle(req, res, req.body);
    } catch (error) {
      if (!res.headersSent) fail(res, 500, String(error?.message ?? error));
    }
  });
  app.listen(port, '127.0.0.1');
}
