// The load generator seen from the runner: a separate process (load-worker.mjs), optionally pinned,
// that runs closed-loop load on request and reports when its measurement window opens and closes, so
// the runner can read the servers' CPU time over exactly that window.
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { BenchProcess } from './processes.mjs';

const WORKER = path.join(path.dirname(fileURLToPath(import.meta.url)), 'load-worker.mjs');

export class LoadGenerator {
  constructor(process) {
    this.process = process;
  }

  /** Starts the load generator process, pinned to `cpuList` when given. */
  static start({ cpuList } = {}) {
    return new LoadGenerator(
      BenchProcess.spawn({ name: 'load generator', command: process.execPath, args: [WORKER], cpuList, ipc: true }),
    );
  }

  /**
   * Runs `connections` requests in flight for `durationSec` against `url`: POST `bodyTemplate` (with a
   * unique id in place of ID_PLACEHOLDER), expecting a tool result whose text is `expectText`. Calls
   * `onWindowOpen`/`onWindowClosed` at the edges of the measurement window.
   */
  run(options, { onWindowOpen = () => undefined, onWindowClosed = () => undefined } = {}) {
    const child = this.process.child;
    return new Promise((resolve, reject) => {
      const onExit = () => finish(reject, new Error(`load generator exited: ${this.process.logs().slice(-2_000)}`));
      const onMessage = (message) => {
        if (message.type === 'window-open') onWindowOpen();
        else if (message.type === 'window-closed') onWindowClosed();
        else if (message.type === 'done') finish(resolve, message.result);
        else if (message.type === 'failed') finish(reject, new Error(`load generator failed: ${message.error}`));
      };
      const finish = (settle, value) => {
        child.off('message', onMessage);
        child.off('exit', onExit);
        settle(value);
      };
      child.on('message', onMessage);
      child.once('exit', onExit);
      child.send({ type: 'run', options });
    });
  }

  cpuTimeMs() {
    return this.process.cpuTimeMs();
  }

  async stop() {
    await this.process.kill();
  }
}
