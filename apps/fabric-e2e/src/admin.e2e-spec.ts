import { createHash, randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium, type Browser, type Page } from 'playwright-core';
import { Fabric } from './support/fabric';

/** Debian's chromium (CI installs it); Playwright's own download cannot run on the closed network. */
const CHROMIUM = {
  executablePath: process.env['CHROMIUM_PATH'] ?? '/usr/bin/chromium',
  args: [
    '--no-sandbox',
    '--disable-gpu',
    '--disable-background-networking',
    '--disable-component-update',
    '--disable-sync',
    '--no-first-run',
  ],
};

/** How long the page may take to show a change of the fleet (announcements, presence, one refresh). */
const PAGE_MS = 15_000;

/** A page of the admin UI, with every page error and console error it produces. */
async function openAdmin(browser: Browser, url: string): Promise<{ page: Page; problems: string[] }> {
  const page = await browser.newPage();
  const problems: string[] = [];
  page.on('pageerror', (error) => problems.push(`pageerror: ${error.message}`));
  page.on('console', (message) => {
    if (message.type() === 'error') problems.push(`console: ${message.text()}`);
  });
  await page.goto(`${url}/admin`);
  return { page, problems };
}

/** Waits until the services table shows `service` with `replicas` replicas. */
async function waitForReplicas(page: Page, service: string, replicas: number): Promise<void> {
  await page.waitForSelector(`#services tr[data-service="${service}"][data-replicas="${replicas}"]`, {
    timeout: PAGE_MS,
  });
}

describe('the admin page (open mode)', () => {
  let fabric: Fabric;
  let browser: Browser;

  beforeAll(async () => {
    fabric = await Fabric.start({ services: [{ app: 'testbed-service' }] });
    browser = await chromium.launch(CHROMIUM);
  });

  afterAll(async () => {
    await browser?.close();
    await fabric?.stop();
  });

  it('shows the services, their replicas as they start and stop, and the calls made, live', async () => {
    const { client } = await fabric.connect('e2e-admin');
    for (let i = 0; i < 5; i++) {
      await client.callTool({ name: 'testbed_echo', arguments: { text: `hello ${i}` } });
    }
    const { page, problems } = await openAdmin(browser, fabric.gateway.url);

    await waitForReplicas(page, 'testbed', 1);
    // The gateway's digest reaches the page within one presence beat.
    await page.waitForSelector('#tools tr[data-tool="testbed_echo"][data-calls="5"]', { timeout: PAGE_MS });
    expect(await page.locator('#gateways tbody tr[data-replica]').count()).toBe(1);
    // The charts are drawn (uPlot made its canvases).
    expect(await page.locator('#chart-rate canvas').count()).toBeGreaterThan(0);

    const second = await fabric.startApp('testbed-service');
    await waitForReplicas(page, 'testbed', 2);
    await second.stop();
    await waitForReplicas(page, 'testbed', 1);

    // Calls made while the page is open show up without reloading it.
    await client.callTool({ name: 'testbed_echo', arguments: { text: 'once more' } });
    await page.waitForSelector('#tools tr[data-tool="testbed_echo"][data-calls="6"]', { timeout: PAGE_MS });

    expect(await page.locator('#status').getAttribute('data-state')).toBe('live');
    expect(problems).toEqual([]);
    await page.close();
  });

  it('serves the page under a strict Content-Security-Policy, and uPlot from the gateway itself', async () => {
    const page = await fetch(`${fabric.gateway.url}/admin`);
    expect(page.status).toBe(200);
    expect(page.headers.get('content-security-policy')).toContain("default-src 'self'");
    const html = await page.text();
    expect(html).not.toMatch(/https?:\/\//);
    expect(html).not.toMatch(/\son[a-z]+=/);
    const uplot = await fetch(`${fabric.gateway.url}/admin/uPlot.iife.min.js`);
    expect(uplot.status).toBe(200);
    expect(uplot.headers.get('content-type')).toContain('text/javascript');
    expect((await uplot.text()).length).toBeGreaterThan(10_000);
  });

  it('lists every gateway replica of the fleet, and answers 404 for /admin on one started with ADMIN_ENABLED=false', async () => {
    const { page, problems } = await openAdmin(browser, fabric.gateway.url);
    await page.waitForSelector('#gateways tbody tr[data-replica]', { timeout: PAGE_MS });
    const disabled = await fabric.startGateway({ ADMIN_ENABLED: 'false' });
    for (const path of ['/admin', '/admin/', '/admin/events', '/admin/admin.js']) {
      expect((await fetch(`${disabled.url}${path}`)).status).toBe(404);
    }
    // Its presence still counts it in the fleet the enabled replica shows.
    const second = '#gateways tbody tr[data-replica]:nth-child(2)';
    await page.waitForSelector(second, { timeout: PAGE_MS });
    await disabled.stop();
    // It said it leaves as it stopped: gone at once, not after its missed beats.
    await page.waitForSelector(second, { state: 'detached', timeout: PAGE_MS });
    expect(problems).toEqual([]);
    await page.close();
  });
});

describe('the admin page with API keys', () => {
  const ADMIN_KEY = `fk_${randomBytes(24).toString('base64url')}`;
  const READER_KEY = `fk_${randomBytes(24).toString('base64url')}`;
  const sha256 = (key: string) => createHash('sha256').update(key).digest('hex');
  let fabric: Fabric;
  let browser: Browser;
  let dir: string;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'e2e-admin-'));
    const keysFile = join(dir, 'keys.json');
    writeFileSync(
      keysFile,
      JSON.stringify([
        { id: 'ops', sha256: sha256(ADMIN_KEY), principal: 'user:ops', scopes: ['fabric:admin'] },
        { id: 'reader', sha256: sha256(READER_KEY), principal: 'svc:reader', scopes: ['testbed:read'] },
      ]),
    );
    fabric = await Fabric.start({ gatewayEnv: { API_KEYS_FILE: keysFile }, services: [{ app: 'testbed-service' }] });
    browser = await chromium.launch(CHROMIUM);
  });

  afterAll(async () => {
    await browser?.close();
    await fabric?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  /** Status and headers of /admin/events for a credential; the stream itself is not read. */
  async function events(headers: Record<string, string> = {}): Promise<Response> {
    const controller = new AbortController();
    const response = await fetch(`${fabric.gateway.url}/admin/events`, { headers, signal: controller.signal });
    controller.abort();
    return response;
  }

  it('answers /admin/events with 401 without a credential, 403 without fabric:admin, and streams with it', async () => {
    const anonymous = await events();
    expect(anonymous.status).toBe(401);
    expect(anonymous.headers.get('www-authenticate')).toMatch(/^Bearer resource_metadata="[^"]+"/);

    const reader = await events({ authorization: `Bearer ${READER_KEY}` });
    expect(reader.status).toBe(403);
    expect(reader.headers.get('www-authenticate')).toContain('error="insufficient_scope"');
    expect(reader.headers.get('www-authenticate')).toContain('fabric:admin');

    const admin = await events({ authorization: `Bearer ${ADMIN_KEY}` });
    expect(admin.status).toBe(200);
    expect(admin.headers.get('content-type')).toBe('text/event-stream');
    expect((await events({ 'x-api-key': ADMIN_KEY })).status).toBe(200);
  });

  it('asks for a credential, refuses one without fabric:admin, and shows the fleet once given one that has it', async () => {
    const { page, problems } = await openAdmin(browser, fabric.gateway.url);
    await page.waitForSelector('#auth:not([hidden])', { timeout: PAGE_MS });

    await page.fill('#token', READER_KEY);
    await page.click('#auth button[type="submit"]');
    await page.waitForSelector('#auth-problem:not([hidden])', { timeout: PAGE_MS });
    expect(await page.textContent('#auth-problem')).toContain('fabric:admin');

    await page.fill('#token', ADMIN_KEY);
    await page.click('#auth button[type="submit"]');
    await waitForReplicas(page, 'testbed', 1);
    expect(await page.isHidden('#auth')).toBe(true);
    // The key is kept for this tab only, and never put in a URL.
    expect(await page.evaluate("sessionStorage.getItem('fabric-admin-token')")).toBe(ADMIN_KEY);
    expect(page.url()).not.toContain(ADMIN_KEY);

    // The browser reports the refused request itself (403) on its console; nothing else may appear.
    expect(problems.filter((problem) => !/status of 403/.test(problem))).toEqual([]);
    await page.close();
  });
});
