// The plain node:http floor: no MCP machinery, only what any server must do per call (read the POST body,
// parse the JSON-RPC request, write a JSON-RPC response). tools/call of TOOL answers RESULT (the JSON of a
// tool result, serialized once at start: the best an edge cache could do); initialize and tools/list get
// the smallest answers a client accepts, notifications a 202. No sessions: Mcp-Session-Id is echoed.
import { createServer } from 'node:http';

const port = Number(process.env.PORT ?? 3000);
const tool = process.env.TOOL ?? 'echo';
const result = JSON.stringify(JSON.parse(process.env.RESULT ?? '{"content":[]}'));
const PROTOCOL_VERSION = '2025-11-25';

function answer(request) {
  if (request.method === 'tools/call' && request.params?.name === tool) return result;
  if (request.method === 'initialize')
    return JSON.stringify({
      protocolVersion: request.params?.protocolVersion ?? PROTOCOL_VERSION,
      capabilities: { tools: {} },
      serverInfo: { name: 'http-floor', version: '1.0.0' },
    });
  if (request.method === 'tools/list')
    return JSON.stringify({ tools: [{ name: tool, inputSchema: { type: 'object' } }] });
  return undefined;
}

const server = createServer((req, res) => {
  const chunks = [];
  req.on('data', (chunk) => chunks.push(chunk));
  req.on('end', () => {
    const headers = { 'content-type': 'application/json' };
    const sessionId = req.headers['mcp-session-id'];
    if (sessionId !== undefined) headers['mcp-session-id'] = sessionId;
    let request;
    try {
      request = JSON.parse(Buffer.concat(chunks).toString('utf8'));
    } catch {
      res.writeHead(400, headers).end('{"jsonrpc":"2.0","id":null,"error":{"code":-32700,"message":"Parse error"}}');
      return;
    }
    if (request.id === undefined) {
      res.writeHead(202, headers).end();
      return;
    }
    const body = answer(request);
    const id = JSON.stringify(request.id);
    res
      .writeHead(200, headers)
      .end(
        body === undefined
          ? `{"jsonrpc":"2.0","id":${id},"error":{"code":-32601,"message":"Method not found"}}`
          : `{"jsonrpc":"2.0","id":${id},"result":${body}}`,
      );
  });
});
server.keepAliveTimeout = 60_000;
server.listen(port, '127.0.0.1');
