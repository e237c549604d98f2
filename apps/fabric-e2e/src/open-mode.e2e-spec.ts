import { networkInterfaces } from 'node:os';
import { Fabric } from './support/fabric';
import { eventually } from './support/processes';

/** An address of this machine other than loopback: where another machine would reach the gateway. */
function externalAddress(): string {
  const address = Object.values(networkInterfaces())
    .flat()
    .find((candidate) => candidate?.family === 'IPv4' && !candidate.internal)?.address;
  if (!address) throw new Error('this test needs a non-loopback IPv4 interface');
  return address;
}

const answers = (url: string) =>
  fetch(url, { signal: AbortSignal.timeout(3_000) }).then(
    (response) => response.ok,
    () => false,
  );

// Safe by default: a gateway that authenticates nobody serves only its own machine, and says so.
describe('a gateway without authentication', () => {
  let fabric: Fabric;

  beforeAll(async () => {
    fabric = await Fabric.start({ gatewayEnv: { LOG_LEVEL: 'info' } });
  });

  afterAll(async () => {
    await fabric?.stop();
  });

  it('listens on 127.0.0.1 only and warns at start that it is open', async () => {
    const { gateway } = fabric;
    expect(await answers(`${gateway.url}/healthz`)).toBe(true);
    expect(await answers(`http://${externalAddress()}:${gateway.port}/healthz`)).toBe(false);
    // Log lines leave in batches (at most 100 ms later).
    await eventually(
      () => gateway.logs().includes('no AUTH_ISSUER or API_KEYS_FILE: /mcp is open'),
      5_000,
      'the open-mode warning',
    );
  });

  it('listens where HOST says', async () => {
    const exposed = await fabric.startGateway({ HOST: '0.0.0.0' });
    expect(await answers(`http://${externalAddress()}:${exposed.port}/healthz`)).toBe(true);
  });
});
