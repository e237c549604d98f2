// The direct single-process peer: an @modelcontextprotocol/sdk server with the bench's `echo` tool on
// node:http, as the SDK's own examples build it. MODE=stateful keeps one server and transport per session
// (Mcp-Session-Id); MODE=stateless builds a server and a transport for every request. Both get the body
// parsed once and keep the SDK's default answers (an SSE stream per request), as its example servers do;
// JSON_RESPONSE=1 answers plain JSON instead (`enableJsonResponse`).
import { randomUUID } from 'node:crypto';
import { createServer } from 'node:http';
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { StreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/streamableHttp.js';
import { isInitializeRequest } from '@modelcontextprotocol/sdk/types.js';
import { z } from 'zod';

const mode = process.env.MODE ?? 'stateful';
const port = Number(process.env.PORT ?? 3000);
const enableJsonResponse = process.env.JSON_RESPONSE === '1';

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
      enableJsonResponse,
      onsessioninitialized: (sessionId) => sessions.set(sessionId, transport),
    });
    transport.onclose = () => sessions.delete(transport.sessionId);
    await echoServer().connect(transport);
  }
  await transport.handleRequest(req, res, body);
}

async function stateless(req, res, body) {
  const server = echoServer();
  const transport = new StreamableHTTPServerTransport({ sessionIdGenerator: undefined, enableJsonResponse });
  res.on('close', () => {
    void transport.close();
    void server.close();
  });
  await server.connect(transport);
  await transport.handleRequest(req, res, body);
}

createServer(async (req, res) => {
  try {
    if (req.url === '/healthz') return res.end('ok');
    if (req.url !== '/mcp') return fail(res, 404, 'Not found');
    if (req.method !== 'POST') return fail(res, 405, 'Method not allowed');
    const body = await readJson(req);
    await (mode === 'stateless' ? stateless : stateful)(req, res, body);
  } catch (error) {
    if (!res.headersSent) fail(res, 500, String(error?.message ?? error));
  }
}).listen(port, '127.0.0.1');
