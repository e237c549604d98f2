import { readdirSync, readFileSync } from 'node:fs';

/** State and parent pid of a process from Linux `/proc/<pid>/stat`, or undefined once it is gone. */
function stat(pid: number | string): { state: string; ppid: number } | undefined {
  try {
    const line = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // The command name (field 2) may hold spaces and parentheses: fields 3 and 4 follow its last `)`.
    const [state, ppid] = line.slice(line.lastIndexOf(')') + 2).split(' ');
    return { state, ppid: Number(ppid) };
  } catch {
    return undefined;
  }
}

/** Whether a process runs (a zombie waiting to be reaped does not). */
export function isRunning(pid: number): boolean {
  const found = stat(pid);
  return found !== undefined && found.state !== 'Z';
}

/** Pids of the running children of a process, ascending. */
export function childPids(parent: number): number[] {
  return readdirSync('/proc')
    .filter((entry) => /^\d+$/.test(entry))
    .filter((entry) => {
      const found = stat(entry);
      return found?.ppid === parent && found.state !== 'Z';
    })
    .map(Number)
    .sort((a, b) => a - b);
}
