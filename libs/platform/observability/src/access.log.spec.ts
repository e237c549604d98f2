import { pino } from 'pino';
import { AccessLog } from './access.log';

/** A destination that keeps what it is given, write by write. */
class Sink {
  readonly writes: string[] = [];
  write(chunk: string): void {
    this.writes.push(chunk);
  }
  lines(): unknown[] {
    return this.writes
      .join('')
      .trim()
      .split('\n')
      .map((line) => JSON.parse(line) as unknown);
  }
}

const nextTurn = () => new Promise((resolve) => setImmediate(resolve));

describe('AccessLog', () => {
  const line = { req: 'r-1', http: 'POST', mcp: 'tools/call', target: 'say "hi"', status: 200, ms: 1.25 };

  it('writes the line the app logger would write for the same fields, with log: "access"', async () => {
    const viaPino = new Sink();
    pino({ base: { app: 'gateway', pid: 42 } }, viaPino)
      .child({ log: 'access' })
      .info(line);
    const direct = new Sink();
    new AccessLog(pino({ base: { app: 'gateway', pid: 42 } }, direct), direct).write(line);
    await nextTurn();
    const { time: pinoTime, ...expected } = viaPino.lines()[0] as { time: number };
    const { time, ...actual } = direct.lines()[0] as { time: number };
    expect(actual).toEqual(expected);
    expect(Math.abs(time - pinoTime)).toBeLessThan(1_000);
  });

  it('leaves out undefined fields and hands the lines of one turn over in one write', async () => {
    const sink = new Sink();
    const access = new AccessLog(pino({ base: {} }, sink), sink);
    access.write({ ...line, session: undefined });
    access.write({ ...line, req: 'r-2' });
    expect(sink.writes).toEqual([]);
    await nextTurn();
    expect(sink.writes).toHaveLength(1);
    expect(sink.lines().map((entry) => (entry as { req: string }).req)).toEqual(['r-1', 'r-2']);
    expect(sink.lines()[0]).not.toHaveProperty('session');
  });

  it('writes nothing when the logger is above info', async () => {
    const sink = new Sink();
    const access = new AccessLog(pino({ level: 'warn' }, sink), sink);
    expect(access.enabled).toBe(false);
    access.write(line);
    access.flush();
    await nextTurn();
    expect(sink.writes).toEqual([]);
  });
});
