import { symbols, type Logger as Pino } from 'pino';

/** One line of the access log: a request to a hot route, as the route describes it. */
export interface AccessLine {
  /** Request id (the client's `X-Request-Id`, or one made up). */
  req: string;
  /** HTTP method. */
  http: string;
  status: number;
  /** Duration in milliseconds. */
  ms: number;
  /** Route-specific fields, e.g. the MCP method, tool or URI, session id prefix. */
  [field: string]: string | number | undefined;
}

/** Where the lines go: the app logger's destination. */
export interface AccessDestination {
  write(chunk: string): unknown;
}

/** pino's number for `info`. */
const INFO = 30;

/**
 * The compact access log of hot routes: one JSON line per request, no headers, in the app logger's format
 * (`level`, `time`, its bindings, then `log: "access"` and the line's fields) and to its destination. The
 * lines of one event-loop turn leave in one write: formatting and writing each through the logger cost a
 * tenth of a cached call's CPU, for fields that never need redaction.
 */
export class AccessLog {
  readonly enabled: boolean;
  private readonly bindings: string;
  private pending = '';

  constructor(
    root: Pino,
    private readonly destination: AccessDestination,
  ) {
    this.enabled = root.isLevelEnabled('info');
    // The logger's bindings as pino writes them on each of its lines (`,"pid":…,"app":…`).
    this.bindings = (root as unknown as Record<symbol, string>)[symbols.chindingsSym] ?? '';
  }

  write(line: AccessLine): void {
    if (!this.enabled) return;
    let json = `{"level":${INFO},"time":${Date.now()}${this.bindings},"log":"access"`;
    for (const key in line) {
      const value = line[key];
      if (value === undefined) continue;
      json += `,${JSON.stringify(key)}:${typeof value === 'number' ? (Number.isFinite(value) ? value : null) : JSON.stringify(value)}`;
    }
    if (this.pending === '') setImmediate(this.flush);
    this.pending += `${json}}\n`;
  }

  /** Hands the lines written so far to the destination (at the end of the turn, or at exit). */
  readonly flush = (): void => {
    if (this.pending === '') return;
    const chunk = this.pending;
    this.pending = '';
    this.destination.write(chunk);
  };
}
