import cluster, { type Worker } from 'node:cluster';
import { AggregatorRegistry, type Registry } from 'prom-client';

// With `WORKERS` > 1 the workers share one port and any of them answers a scrape: the one that does asks
// the primary, which collects every worker's registry over the cluster's IPC channel and sends back the
// combination. Messages, worker → primary: READY (answers COLLECT from now on), SCRAPE, COLLECTED;
// primary → worker: COLLECT, SCRAPED.
const READY = 'fabric:metrics:ready';
const SCRAPE = 'fabric:metrics:scrape';
const SCRAPED = 'fabric:metrics:scraped';
const COLLECT = 'fabric:metrics:collect';
const COLLECTED = 'fabric:metrics:collected';

/** One metric as `Registry.getMetricsAsJSON()` gives it (prom-client types `type` as an enum; it holds the name). */
export interface MetricJson {
  name: string;
  help: string;
  type: string;
  aggregator: string;
  values: { value: number; labels: Record<string, string | number>; metricName?: string }[];
}

type Message =
  | { type: typeof READY }
  | { type: typeof SCRAPE; id: number }
  | { type: typeof SCRAPED; id: number; text?: string; error?: string }
  | { type: typeof COLLECT; id: number }
  | { type: typeof COLLECTED; id: number; metrics: MetricJson[] };

function isMessage(value: unknown): value is Message {
  return (
    typeof value === 'object' &&
    value !== null &&
    String((value as { type?: unknown }).type).startsWith('fabric:metrics:')
  );
}

/** The metrics of the workers could not be gathered: the scrape fails rather than report some of them. */
export class WorkerMetricsError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'WorkerMetricsError';
  }
}

/**
 * The workers' metrics as one Prometheus text: counters and histograms summed over the workers (prom-client's
 * cluster aggregation), gauges kept per worker with a `worker` label, since a sum of per-process readings
 * (sessions held, catalog size, memory) is rarely what it claims to be.
 */
export function combineWorkerMetrics(workers: { worker: string; metrics: MetricJson[] }[]): Promise<string> {
  const labelled = workers.map(({ worker, metrics }) =>
    metrics.map((metric) =>
      metric.type === 'gauge'
        ? { ...metric, values: metric.values.map((value) => ({ ...value, labels: { ...value.labels, worker } })) }
        : metric,
    ),
  );
  return AggregatorRegistry.aggregate(labelled).metrics();
}

/**
 * In a cluster primary: answers each worker's scrape with the metrics of every worker that is up.
 * `workerLabel` names a worker in its gauges (its slot, which its replacement keeps).
 */
export function aggregateWorkerMetrics(workerLabel: (worker: Worker) => string | undefined, timeoutMs = 2_000): void {
  const ready = new Set<Worker>();
  const collections = new Map<number, (worker: Worker, metrics?: MetricJson[]) => void>();
  let nextId = 0;

  const collect = async (): Promise<string> => {
    const id = nextId++;
    const waiting = new Set([...ready].filter((worker) => worker.isConnected()));
    const replies: { worker: string; metrics: MetricJson[] }[] = [];
    let timer: NodeJS.Timeout | undefined;
    try {
      await new Promise<void>((resolve, reject) => {
        // A worker that exits meanwhile is left out: its numbers went with it.
        collections.set(id, (worker, metrics) => {
          if (!waiting.delete(worker)) return;
          if (metrics) replies.push({ worker: workerLabel(worker) ?? String(worker.id), metrics });
          if (waiting.size === 0) resolve();
        });
        timer = setTimeout(() => {
          const late = [...waiting].map((worker) => workerLabel(worker) ?? String(worker.id));
          reject(new WorkerMetricsError(`worker(s) ${late.join(', ')} sent no metrics within ${timeoutMs} ms`));
        }, timeoutMs);
        if (waiting.size === 0) resolve();
        for (const worker of waiting) worker.send({ type: COLLECT, id } satisfies Message);
      });
    } finally {
      clearTimeout(timer);
      collections.delete(id);
    }
    return combineWorkerMetrics(replies);
  };

  cluster.on('message', (worker: Worker, message: unknown) => {
    if (!isMessage(message)) return;
    if (message.type === READY) ready.add(worker);
    else if (message.type === COLLECTED) collections.get(message.id)?.(worker, message.metrics);
    else if (message.type === SCRAPE) {
      collect().then(
        (text) => worker.isConnected() && worker.send({ type: SCRAPED, id: message.id, text } satisfies Message),
        (error: unknown) =>
          worker.isConnected() &&
          worker.send({ type: SCRAPED, id: message.id, error: (error as Error).message } satisfies Message),
      );
    }
  });
  cluster.on('exit', (worker: Worker) => {
    ready.delete(worker);
    for (const gone of collections.values()) gone(worker);
  });
}

/** In a cluster worker: sends its registry to the primary when asked, and scrapes every worker through it. */
export class WorkerMetricsClient {
  private readonly scrapes = new Map<number, { resolve: (text: string) => void; reject: (error: Error) => void }>();
  private nextId = 0;
  private readonly onMessage = (message: unknown) => {
    if (!isMessage(message)) return;
    if (message.type === COLLECT) {
      void this.registry.getMetricsAsJSON().then((metrics) => {
        this.send({ type: COLLECTED, id: message.id, metrics: metrics as unknown as MetricJson[] });
      });
    } else if (message.type === SCRAPED) {
      const scrape = this.scrapes.get(message.id);
      if (message.error !== undefined) scrape?.reject(new WorkerMetricsError(message.error));
      else scrape?.resolve(message.text ?? '');
    }
  };

  /** `timeoutMs` bounds the wait for the primary, which bounds its own wait for the workers below it. */
  constructor(
    private readonly registry: Registry,
    private readonly timeoutMs = 5_000,
  ) {
    process.on('message', this.onMessage);
    this.send({ type: READY });
  }

  /** The Prometheus text of every worker, combined by the primary. */
  scrape(): Promise<string> {
    const id = this.nextId++;
    let timer: NodeJS.Timeout | undefined;
    return new Promise<string>((resolve, reject) => {
      this.scrapes.set(id, { resolve, reject });
      timer = setTimeout(
        () => reject(new WorkerMetricsError(`the primary sent no metrics within ${this.timeoutMs} ms`)),
        this.timeoutMs,
      );
      this.send({ type: SCRAPE, id });
    }).finally(() => {
      clearTimeout(timer);
      this.scrapes.delete(id);
    });
  }

  close(): void {
    process.off('message', this.onMessage);
  }

  private send(message: Message): void {
    if (process.connected) process.send?.(message);
  }
}
