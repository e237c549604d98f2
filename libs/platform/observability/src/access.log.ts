import type { Logger as Pino } from 'pino';

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

/**
 * The compact access log of hot routes (one line per request, no headers), through the app's logger, whose
 * destination writes asynchronously: lines of many requests leave in one write.
 */
export class AccessLog {
  private readonly logger: Pino;
  readonly enabled: boolean;

  constructor(root: Pino) {
    this.logger = root.child({ log: 'access' });
    this.enabled = this.logger.isLevelEnabled('info');
  }

  write(line: AccessLine): void {
    if (this.enabled) this.logger.info(line);
  }
}
