import { connect, type Socket } from 'node:net';
import { Fabric } from './support/fabric';
import { eventually } from './support/processes';

const CONNECTIONS = 3_000;
const BODY_TIMEOUT_MS = 1_000;

/** Opens a connection that sends a POST's headers and one byte of its body, then nothing. */
function stalledPost(port: number): Promise<{ socket: Socket; received: () => string; closed: () => boolean }> {
  return new Promise((resolve, reject) => {
    let received = '';
    let closed = false;
    const socket = connect(port, '127.0.0.1', () => {
      socket.write(
        'POST /mcp HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n' +
          'Accept: application/json, text/event-stream\r\nContent-Length: 100\r\n\r\n{',
      );
      resolve({ socket, received: () => received, closed: () => closed });
    });
    socket.on('data', (chunk) => (received += chunk.toString()));
    socket.on('close', () => (closed = true));
    socket.on('error', reject);
  });
}

// A client that sends headers and never its whole body must not hold a connection: a flood of them would
// exhaust the gateway's sockets.
describe('slow request bodies', () => {
  let fabric: Fabric;

  beforeAll(async () => {
    fabric = await Fabric.start({ gatewayEnv: { BODY_TIMEOUT_MS: String(BODY_TIMEOUT_MS) } });
  });

  afterAll(async () => {
    await fabric?.stop();
  });

  it('3,000 connections that stall mid-body each get 408 and are closed by the gateway', async () => {
    const port = fabric.gateway.port;
    const stalled: Awaited<ReturnType<typeof stalledPost>>[] = [];
    for (let i = 0; i < CONNECTIONS; i += 100) {
      stalled.push(...(await Promise.all(Array.from({ length: 100 }, () => stalledPost(port)))));
    }
    try {
      await eventually(
        () => stalled.every((connection) => connection.closed()),
        30_000,
        'every stalled connection to be closed',
      );
      const answers = stalled.map((connection) => connection.received().split('\r\n')[0]);
      expect(new Set(answers)).toEqual(new Set(['HTTP/1.1 408 Request Timeout']));
      expect(stalled[0].received()).toContain('"code":-32600');
      // The gateway still serves.
      expect((await fetch(`${fabric.gateway.url}/healthz`)).status).toBe(200);
    } finally {
      for (const connection of stalled) connection.socket.destroy();
    }
  }, 90_000);
});
