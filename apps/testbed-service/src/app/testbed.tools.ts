import { Injectable } from '@nestjs/common';
import { setTimeout as delay } from 'node:timers/promises';
import { z } from 'zod';
import { McpPrompt, McpResource, McpTool, type CallContext } from '@fabric/service-kit';

/** Tools whose behaviour tests can predict and observe: echo, wait, fail, and counters of what happened. */
@Injectable()
export class TestbedTools {
  private aborted = 0;
  private completed = 0;
  private writes = 0;

  @McpTool({
    name: 'echo',
    description: 'Returns the text it is given.',
    input: z.object({ text: z.string().describe('Text to echo') }),
    annotations: { readOnlyHint: true, idempotentHint: true },
  })
  echo(args: { text: string }): string {
    return args.text;
  }

  @McpTool({
    name: 'sleep',
    description: 'Waits `ms` milliseconds (stops early when the call is cancelled or its deadline passes).',
    input: z.object({ ms: z.number().int().min(0).max(60_000) }),
    annotations: { readOnlyHint: true, idempotentHint: true },
    timeoutMs: 1_000,
  })
  async sleep(args: { ms: number }, ctx: CallContext): Promise<string> {
    try {
      await delay(args.ms, undefined, { signal: ctx.signal });
    } catch (error) {
      this.aborted++;
      throw error;
    }
    this.completed++;
    return `slept ${args.ms} ms`;
  }

  @McpTool({
    name: 'slow_read',
    description:
      'Waits `ms` milliseconds, then returns the id of the process that served it (read-only: safe to run again).',
    input: z.object({ ms: z.number().int().min(0).max(60_000) }),
    annotations: { readOnlyHint: true },
  })
  async slowRead(args: { ms: number }, ctx: CallContext): Promise<string> {
    await delay(args.ms, undefined, { signal: ctx.signal });
    return `read by ${process.pid}`;
  }

  @McpTool({
    name: 'slow_write',
    description: 'Waits `ms` milliseconds, then counts one write (neither read-only nor idempotent).',
    input: z.object({ ms: z.number().int().min(0).max(60_000) }),
    annotations: { readOnlyHint: false, idempotentHint: false, destructiveHint: false },
  })
  async slowWrite(args: { ms: number }, ctx: CallContext): Promise<string> {
    await delay(args.ms, undefined, { signal: ctx.signal });
    this.writes++;
    return `written by ${process.pid}`;
  }

  @McpTool({
    name: 'stats',
    description:
      'How many sleep calls completed, how many were stopped by their deadline or a cancellation, how many writes happened.',
    input: z.object({}),
    output: z.object({ completed: z.number(), aborted: z.number(), writes: z.number(), pid: z.number() }),
    annotations: { readOnlyHint: true },
  })
  stats() {
    return { completed: this.completed, aborted: this.aborted, writes: this.writes, pid: process.pid };
  }

  @McpTool({
    name: 'fail',
    description: 'Throws an unexpected error (its message must not reach the client).',
    input: z.object({}),
  })
  fail(): never {
    throw new Error('database password is hunter2 at /srv/app/secret.ts:42');
  }

  @McpResource({ uri: 'testbed://about', name: 'about', description: 'What this service is', mimeType: 'text/plain' })
  about(): string {
    return 'The testbed service: fixtures for tests and benchmarks.';
  }

  @McpPrompt({
    name: 'greet',
    description: 'Greets someone',
    arguments: z.object({ name: z.string().describe('Who to greet') }),
  })
  greet(args: { name: string }): string {
    return `Say hello to ${args.name}.`;
  }
}
