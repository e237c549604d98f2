// The load generator process (started by load.mjs, pinned on its own CPU): a closed loop of autocannon
// connections, one request in flight on each, posting a JSON-RPC body with a unique id per request and
// checking every response. Talks to its parent over the IPC channel.
import autocannon from 'autocannon';
import { performance } from 'node:perf_hooks';
import { ID_PLACEHOLDER, checkToolResult } from './mcp.mjs';
import { summarize } from './stats.mjs';

// Ids below this are left to the runner's own requests on the same session (initialize, tools/list).
let nextId = 1_000;

function headerOf(headers, name) {
  const key = Object.keys(headers).find((candidate) => candidate.toLowerCase() === name);
  return key === undefined ? undefined : String(headers[key]);
}

/**
 * One closed-loop run, of `amount` requests (a warm-up) or of `durationSec`: then the measurement window
 * opens when autocannon starts and closes `durationSec` later, and only responses inside it count for
 * throughput and latency. An error at any time counts.
 */
function run({ url, connections, durationSec, amount, headers, bodyTemplate, expectText }) {
  const errors = { status: 0, rpc: 0, isError: 0, body: 0, transport: 0 };
  const samples = [];
  let ok = 0;
  let firstError;
  let counting = false;
  let windowMs = 0;
  let started;
  const fail = (kind, detail) => {
    errors[kind]++;
    firstError ??= `${kind}: ${detail}`;
  };

  return new Promise((resolve, reject) => {
    const instance = autocannon(
      {
        url,
        connections,
        pipelining: 1,
        // autocannon stops at the next sample tick after stop(): keep that tail short.
        ...(amount ? { amount } : { duration: durationSec + 30 }),
        sampleInt: 100,
        timeout: 10,
        method: 'POST',
        headers: { 'content-type': 'application/json', accept: 'application/json, text/event-stream', ...headers },
        requests: [
          {
            setupRequest(request, context) {
              context.id = nextId++;
              return { ...request, body: bodyTemplate.replace(ID_PLACEHOLDER, String(context.id)) };
            },
            onResponse(status, body, context, responseHeaders) {
              const problem = checkToolResult(
                status,
                body,
                headerOf(responseHeaders, 'content-type'),
                context.id,
                expectText,
              );
              if (problem) fail(problem.kind, problem.detail);
              else if (counting) ok++;
            },
          },
        ],
      },
      (error) => {
        if (error) return reject(error);
        if (amount) windowMs = performance.now() - started;
        resolve({
          connections,
          windowMs,
          ok,
          errors,
          errorCount: Object.values(errors).reduce((a, b) => a + b, 0),
          firstError,
          ...summarize(samples, ok, windowMs),
        });
      },
    );
    instance.on('response', (_client, _status, _bytes, responseTimeMs) => {
      if (counting) samples.push(responseTimeMs);
    });
    instance.on('reqError', (error) => fail('transport', error.message));
    instance.once('start', () => {
      started = performance.now();
      counting = true;
      if (amount) return;
      process.send({ type: 'window-open' });
      setTimeout(() => {
        counting = false;
        windowMs = performance.now() - started;
        process.send({ type: 'window-closed' });
        instance.stop();
      }, durationSec * 1000);
    });
  });
}

process.on('message', (message) => {
  if (message.type !== 'run') return;
  run(message.options).then(
    (result) => process.send({ type: 'done', result }),
    (error) => process.send({ type: 'failed', error: String(error?.stack ?? error) }),
  );
});
process.on('disconnect', () => process.exit(0));
