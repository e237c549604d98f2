import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import { textOf } from './fabric';

export interface LoadReport {
  ok: number;
  /** One line per failed call: a rejected promise or an `isError` result. */
  failures: string[];
}

/**
 * Keeps `concurrency` calls in flight (a closed loop) until stopped, counting successes and failures.
 * `call` returns a tool result; `expectText`, when given, is checked against every result.
 */
export function steadyLoad(
  call: (n: number) => Promise<unknown>,
  options: { concurrency: number; expectText?: (n: number) => string },
): { report: () => LoadReport; stop: () => Promise<LoadReport> } {
  const report: LoadReport = { ok: 0, failures: [] };
  let running = true;
  let counter = 0;
  const worker = async () => {
    while (running) {
      const n = counter++;
      try {
        const result = (await call(n)) as CallToolResult;
        const text = textOf(result);
        if (result.isError) report.failures.push(`call ${n}: ${text}`);
        else if (options.expectText && text !== options.expectText(n))
          report.failures.push(`call ${n}: unexpected ${text}`);
        else report.ok++;
      } catch (error) {
        report.failures.push(`call ${n}: ${error instanceof Error ? error.message : String(error)}`);
      }
    }
  };
  const workers = Array.from({ length: options.concurrency }, worker);
  return {
    report: () => report,
    stop: async () => {
      running = false;
      await Promise.all(workers);
      return report;
    },
  };
}
