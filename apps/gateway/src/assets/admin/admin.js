// The admin page: reads the gateway's snapshot stream (/admin/events) and draws it. No framework: tables are
// rebuilt from each snapshot, charts are uPlot (loaded before this module as the global `uPlot`).
// The stream is read with fetch, not EventSource, so that it can carry an Authorization header; the
// credential stays in this tab's sessionStorage and never goes into a URL.

const TOKEN_KEY = 'fabric-admin-token';
/** Points kept per chart series: five minutes at the default refresh. */
const HISTORY = 300;
/** Tools drawn on the charts: the busiest ones. */
const CHART_TOOLS = 6;
const COLORS = ['#0969da', '#cf222e', '#1a7f37', '#9a6700', '#8250df', '#bf3989'];

const $ = (id) => document.getElementById(id);
const authRequired = document.body.dataset.auth === 'on';

// --- formatting ---------------------------------------------------------------------------------------
const fixed = (value, digits) => (value === null || value === undefined ? '–' : value.toFixed(digits));
const percent = (ratio) => (ratio === null || ratio === undefined ? '–' : `${(ratio * 100).toFixed(1)} %`);
const ms = (value) =>
  value === null || value === undefined ? '–' : `${value < 10 ? value.toFixed(1) : Math.round(value)} ms`;

function ago(milliseconds) {
  const seconds = Math.max(0, Math.round(milliseconds / 1000));
  return seconds < 1 ? 'now' : `${seconds} s ago`;
}

function duration(milliseconds) {
  const seconds = Math.floor(milliseconds / 1000);
  if (seconds < 60) return `${seconds} s`;
  const minutes = Math.floor(seconds / 60);
  if (minutes < 60) return `${minutes} min`;
  const hours = Math.floor(minutes / 60);
  return `${hours} h ${minutes % 60} min`;
}

// --- tables -------------------------------------------------------------------------------------------
/** A table row from cells: `[text, className?]`; data attributes from `data`. */
function row(cells, data = {}) {
  const tr = document.createElement('tr');
  for (const [key, value] of Object.entries(data)) tr.dataset[key] = String(value);
  for (const [text, className] of cells) {
    const td = document.createElement('td');
    td.textContent = String(text);
    if (className) td.className = className;
    tr.append(td);
  }
  return tr;
}

function fill(tableId, rows, columns) {
  const body = $(tableId).tBodies[0];
  if (rows.length === 0) {
    const td = document.createElement('td');
    td.colSpan = columns;
    td.className = 'empty';
    td.textContent = 'none';
    const tr = document.createElement('tr');
    tr.append(td);
    rows = [tr];
  }
  body.replaceChildren(...rows);
}

function render(snapshot) {
  $('service-count').textContent = String(snapshot.services.length);
  $('gateway-count').textContent = String(snapshot.gateways.length);
  $('sessions').textContent = snapshot.sessions === null ? '–' : String(snapshot.sessions);
  $('tasks').textContent = snapshot.tasks === null ? '–' : `${snapshot.tasks.records} (${snapshot.tasks.queued})`;
  $('cache-ratio').textContent = percent(snapshot.cache.hitRatio);
  const rate = snapshot.tools.reduce((sum, tool) => sum + tool.callsPerSecond, 0);
  $('calls-rate').textContent = fixed(rate, 2);

  fill(
    'services',
    snapshot.services.map((service) => {
      const ready = service.replicas.filter((replica) => replica.state === 'ready').length;
      const inFlight = service.replicas.reduce((sum, replica) => sum + (replica.inFlight ?? 0), 0);
      const versions = [...new Set(service.replicas.map((replica) => replica.version))].join(', ');
      return row(
        [
          [service.name],
          [service.replicas.length, 'num replicas'],
          [ready, 'num ready'],
          [inFlight, 'num in-flight'],
          [versions],
        ],
        { service: service.name, replicas: service.replicas.length },
      );
    }),
    5,
  );
  fill(
    'replicas',
    snapshot.services.flatMap((service) =>
      service.replicas.map((replica) =>
        row(
          [
            [service.name],
            [replica.instance, 'mono'],
            [replica.version],
            [replica.state, 'state'],
            [replica.inFlight ?? '–', 'num'],
            [ago(replica.lastSeenMs)],
          ],
          { service: service.name, instance: replica.instance, state: replica.state },
        ),
      ),
    ),
    6,
  );
  fill(
    'gateways',
    snapshot.gateways.map((gateway) =>
      row(
        [
          [gateway.replica, 'mono'],
          [`${gateway.host} (pid ${gateway.pid})`],
          [gateway.version],
          [duration(gateway.uptimeMs)],
          [gateway.calls, 'num'],
          [gateway.self ? 'now' : ago(gateway.lastSeenMs)],
        ],
        { replica: gateway.replica, self: gateway.self },
      ),
    ),
    6,
  );
  fill(
    'tools',
    snapshot.tools.map((tool) =>
      row(
        [
          [tool.tool, 'mono'],
          [tool.calls, 'num calls'],
          [fixed(tool.callsPerSecond, 2), 'num rate'],
          [percent(tool.calls === 0 ? null : tool.errorRate), 'num errors'],
          [ms(tool.p50Ms), 'num p50'],
          [ms(tool.p99Ms), 'num p99'],
          [percent(tool.cacheHitRatio), 'num cache'],
        ],
        { tool: tool.tool, calls: tool.calls },
      ),
    ),
    7,
  );
  charts.add(snapshot);
}

// --- charts -------------------------------------------------------------------------------------------
/** The history of the numbers drawn, kept here (the gateway sends only the present). */
class Charts {
  constructor() {
    this.times = [];
    /** Per tool: calls/s and p99 aligned with `times` (null where the tool had no number). */
    this.rates = new Map();
    this.p99s = new Map();
    /** The tools the charts draw now (null: no chart yet). */
    this.shown = null;
    this.plots = [];
  }

  add(snapshot) {
    this.times.push(snapshot.at / 1000);
    for (const tool of snapshot.tools) {
      if (!this.rates.has(tool.tool)) {
        this.rates.set(
          tool.tool,
          this.times.slice(0, -1).map(() => null),
        );
        this.p99s.set(
          tool.tool,
          this.times.slice(0, -1).map(() => null),
        );
      }
    }
    const byName = new Map(snapshot.tools.map((tool) => [tool.tool, tool]));
    for (const [name, values] of this.rates) values.push(byName.get(name)?.callsPerSecond ?? null);
    for (const [name, values] of this.p99s) values.push(byName.get(name)?.p99Ms ?? null);
    if (this.times.length > HISTORY) {
      this.times.shift();
      for (const values of this.rates.values()) values.shift();
      for (const values of this.p99s.values()) values.shift();
    }
    const busiest = snapshot.tools
      .filter((tool) => tool.calls > 0)
      .sort((a, b) => b.calls - a.calls || a.tool.localeCompare(b.tool))
      .slice(0, CHART_TOOLS)
      .map((tool) => tool.tool)
      .sort();
    const key = busiest.join('\n');
    if (key !== this.shown) this.rebuild(busiest);
    this.draw(busiest);
  }

  rebuild(tools) {
    for (const plot of this.plots) plot.destroy();
    this.shown = tools.join('\n');
    const series = [{}, ...tools.map((tool, i) => ({ label: tool, stroke: COLORS[i % COLORS.length], width: 2 }))];
    this.plots = [$('chart-rate'), $('chart-p99')].map(
      (target) =>
        new uPlot(
          { width: this.widthOf(target), height: 200, series, scales: { x: { time: true } }, legend: { live: false } },
          [[], ...tools.map(() => [])],
          target,
        ),
    );
  }

  draw(tools) {
    const [rate, p99] = this.plots;
    rate.setData([this.times, ...tools.map((tool) => this.rates.get(tool))]);
    p99.setData([this.times, ...tools.map((tool) => this.p99s.get(tool))]);
  }

  resize() {
    for (const plot of this.plots) plot.setSize({ width: this.widthOf(plot.root.parentElement), height: 200 });
  }

  widthOf(target) {
    return Math.max(300, target.clientWidth || target.parentElement.clientWidth - 16);
  }
}

const charts = new Charts();
window.addEventListener('resize', () => charts.resize());

// --- the stream ---------------------------------------------------------------------------------------
function setStatus(state, text) {
  const status = $('status');
  status.dataset.state = state;
  status.textContent = text;
}

function askForToken(problem) {
  const form = $('auth');
  form.hidden = false;
  const message = $('auth-problem');
  message.hidden = !problem;
  message.textContent = problem ?? '';
  setStatus('unauthorized', 'a credential is needed');
  $('token').focus();
}

$('auth').addEventListener('submit', (event) => {
  event.preventDefault();
  const token = $('token').value.trim();
  if (!token) return;
  sessionStorage.setItem(TOKEN_KEY, token);
  $('token').value = '';
  $('auth').hidden = true;
  void connect();
});

let retryMs = 500;

/** Hands each complete SSE event of `text` to `onEvent`; returns what is left (an unfinished event). */
function parseEvents(text, onEvent) {
  let end;
  while ((end = text.indexOf('\n\n')) !== -1) {
    const block = text.slice(0, end);
    text = text.slice(end + 2);
    let event = 'message';
    const data = [];
    for (const line of block.split('\n')) {
      if (line.startsWith('event:')) event = line.slice(6).trim();
      else if (line.startsWith('data:')) data.push(line.slice(5).replace(/^ /, ''));
    }
    if (data.length > 0) onEvent(event, data.join('\n'));
  }
  return text;
}

async function connect() {
  const token = sessionStorage.getItem(TOKEN_KEY);
  if (authRequired && !token) return askForToken();
  setStatus('connecting', 'connecting…');
  const headers = { Accept: 'text/event-stream' };
  if (token) headers.Authorization = `Bearer ${token}`;
  let response;
  try {
    response = await fetch('/admin/events', { headers, cache: 'no-store', credentials: 'omit' });
  } catch {
    return retry();
  }
  if (response.status === 401 || response.status === 403) {
    sessionStorage.removeItem(TOKEN_KEY);
    return askForToken(
      response.status === 401 ? 'That credential was not accepted.' : 'That credential lacks the fabric:admin scope.',
    );
  }
  if (!response.ok || !response.body) return retry();
  retryMs = 500;
  setStatus('live', 'live');
  const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
  let pending = '';
  try {
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      pending = parseEvents(pending + value, (event, data) => {
        if (event !== 'snapshot') return;
        const snapshot = JSON.parse(data);
        render(snapshot);
        setStatus('live', `live · ${new Date(snapshot.at).toLocaleTimeString()}`);
      });
    }
  } catch {
    // The connection broke: reconnect below.
  }
  retry();
}

function retry() {
  setStatus('reconnecting', 'reconnecting…');
  setTimeout(() => void connect(), retryMs);
  retryMs = Math.min(retryMs * 2, 5_000);
}

void connect();
