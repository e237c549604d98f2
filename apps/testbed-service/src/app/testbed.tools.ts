import { Inject, Injectable } from '@nestjs/common';
import { setTimeout as delay } from 'node:timers/promises';
import { z } from 'zod';
import type { ToolResult } from '@fabric/contracts';
import { McpPrompt, McpResource, McpTool, ResourceNotifier, samplingText, type CallContext } from '@fabric/service-kit';

const COUNTER_URI = 'testbed://counter';

/** Sampling and elicitation wait for the test client to answer. */
const ASK_TIMEOUT_MS = 30_000;

/**
 * Tools whose behaviour tests can predict and observe: echo, wait, fail, counters of what happened, and
 * calls that talk to their client (progress, logs, sampling, elicitation, resource updates).
 */
@Injectable()
export class TestbedTools {
  private aborted = 0;
  private completed = 0;
  private writes = 0;
  private count = 0;
  private tally = 0;
  private stamps = 0;

  constructor(@Inject(ResourceNotifier) private readonly resources: ResourceNotifier) {}

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
    name: 'whoami',
    description: 'Returns the principal the call arrived with (as JSON), or null when the gateway runs open.',
    input: z.object({}),
    annotations: { readOnlyHint: true },
  })
  whoami(_args: Record<string, never>, ctx: CallContext): string {
    return JSON.stringify(ctx.principal ?? null);
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
    name: 'slow_bump',
    description:
      "Waits `ms` milliseconds, then adds one to this replica's tally (neither read-only nor idempotent: a repeat must not count twice); returns the new tally and the id of the process.",
    input: z.object({ ms: z.number().int().min(0).max(60_000) }),
    annotations: { readOnlyHint: false, idempotentHint: false, destructiveHint: false },
  })
  async slowBump(args: { ms: number }, ctx: CallContext): Promise<string> {
    await delay(args.ms, undefined, { signal: ctx.signal });
    return `tally ${++this.tally} by ${process.pid}`;
  }

  @McpTool({
    name: 'stats',
    description:
      'How many sleep calls completed, how many were stopped by their deadline or a cancellation, how many writes happened, the slow_bump tally.',
    input: z.object({}),
    output: z.object({
      completed: z.number(),
      aborted: z.number(),
      writes: z.number(),
      tally: z.number(),
      pid: z.number(),
    }),
    annotations: { readOnlyHint: true },
  })
  stats() {
    const { completed, aborted, writes, tally } = this;
    return { completed, aborted, writes, tally, pid: process.pid };
  }

  @McpTool({
    name: 'fail',
    description: 'Throws an unexpected error (its message must not reach the client).',
    input: z.object({}),
  })
  fail(): never {
    throw new Error('database password is hunter2 at /srv/app/secret.ts:42');
  }

  @McpTool({
    name: 'progress_steps',
    description: 'Runs `steps` steps of `ms` milliseconds each, reporting progress and logging (info) after each.',
    input: z.object({ steps: z.number().int().min(1).max(100), ms: z.number().int().min(0).max(5_000) }),
    annotations: { readOnlyHint: true, idempotentHint: true },
    timeoutMs: 30_000,
  })
  async progressSteps(args: { steps: number; ms: number }, ctx: CallContext): Promise<string> {
    for (let i = 1; i <= args.steps; i++) {
      await delay(args.ms, undefined, { signal: ctx.signal });
      ctx.progress(i, args.steps, `step ${i} of ${args.steps}`);
      ctx.log('info', `step ${i} of ${args.steps}`);
    }
    return `done ${args.steps} steps`;
  }

  @McpTool({
    name: 'long_job',
    description:
      'A long job for MCP tasks: `steps` steps of `ms` milliseconds each, reporting progress and logging (info) after each; returns the id of the process that finished it and which attempt that was (a task is run again when its replica dies).',
    input: z.object({ steps: z.number().int().min(1).max(1_000), ms: z.number().int().min(0).max(10_000) }),
    output: z.object({ steps: z.number(), pid: z.number(), attempt: z.number() }),
    annotations: { readOnlyHint: true, idempotentHint: true },
    execution: { taskSupport: 'optional' },
  })
  async longJob(args: { steps: number; ms: number }, ctx: CallContext): Promise<ToolResult> {
    for (let i = 1; i <= args.steps; i++) {
      await delay(args.ms, undefined, { signal: ctx.signal });
      ctx.progress(i, args.steps, `step ${i} of ${args.steps}`);
      ctx.log('info', `step ${i} of ${args.steps} (attempt ${ctx.attempt})`);
    }
    return {
      content: [
        { type: 'text', text: `done ${args.steps} steps by ${process.pid}` },
        { type: 'text', text: `attempt ${ctx.attempt}` },
      ],
      structuredContent: { steps: args.steps, pid: process.pid, attempt: ctx.attempt },
    };
  }

  @McpTool({
    name: 'task_only_job',
    description: 'The long job, callable only as an MCP task (taskSupport required): the gateway refuses a plain call.',
    input: z.object({ steps: z.number().int().min(1).max(1_000), ms: z.number().int().min(0).max(10_000) }),
    output: z.object({ steps: z.number(), pid: z.number(), attempt: z.number() }),
    annotations: { readOnlyHint: true, idempotentHint: true },
    execution: { taskSupport: 'required' },
  })
  taskOnlyJob(args: { steps: number; ms: number }, ctx: CallContext): Promise<ToolResult> {
    return this.longJob(args, ctx);
  }

  @McpTool({
    name: 'ask_model',
    description: "Asks the client's model (sampling) and returns its answer.",
    input: z.object({ prompt: z.string().describe('What to ask the model') }),
    timeoutMs: ASK_TIMEOUT_MS,
  })
  async askModel(args: { prompt: string }, ctx: CallContext): Promise<string> {
    const answer = await ctx.sample({
      messages: [{ role: 'user', content: { type: 'text', text: args.prompt } }],
      maxTokens: 100,
    });
    return `model said: ${samplingText(answer)}`;
  }

  @McpTool({
    name: 'ask_user',
    description: 'Asks the user for a name (elicitation) and returns the answer.',
    input: z.object({ message: z.string().describe('What to tell the user') }),
    timeoutMs: ASK_TIMEOUT_MS,
  })
  async askUser(args: { message: string }, ctx: CallContext): Promise<string> {
    const answer = await ctx.elicit({
      message: args.message,
      requestedSchema: { type: 'object', properties: { name: { type: 'string' } }, required: ['name'] },
    });
    return `action=${answer.action} content=${JSON.stringify(answer.content ?? {})}`;
  }

  @McpTool({
    name: 'bump_counter',
    description: `Adds one to the counter and reports ${COUNTER_URI} as updated; returns the new count.`,
    input: z.object({}),
    annotations: { readOnlyHint: false, idempotentHint: false, destructiveHint: false },
  })
  bumpCounter(): string {
    this.count++;
    this.resources.updated(COUNTER_URI);
    return String(this.count);
  }

  @McpResource({
    uri: COUNTER_URI,
    name: 'counter',
    description: 'How many times bump_counter ran',
    mimeType: 'text/plain',
  })
  counter(): string {
    return String(this.count);
  }

  @McpTool({
    name: 'cached_stamp',
    description:
      'Waits `ms` milliseconds, then returns a stamp of this load: how many loads this replica made and its pid. ' +
      'Cached for a minute per `key` (shared by every caller); `invalidate_stamp` drops it.',
    input: z.object({ key: z.string(), ms: z.number().int().min(0).max(10_000).default(0) }),
    annotations: { readOnlyHint: true, idempotentHint: true },
    cache: { ttlMs: 60_000, key: ['key'], tags: ['stamp:{key}'] },
  })
  async cachedStamp(args: { key: string; ms: number }, ctx: CallContext): Promise<string> {
    await delay(args.ms, undefined, { signal: ctx.signal });
    return `stamp ${args.key} #${++this.stamps} by ${process.pid}`;
  }

  @McpTool({
    name: 'invalidate_stamp',
    description: 'Drops the cached stamp of `key` everywhere (every gateway and replica), then answers.',
    input: z.object({ key: z.string() }),
    annotations: { readOnlyHint: false, idempotentHint: true, destructiveHint: false },
  })
  async invalidateStamp(args: { key: string }, ctx: CallContext): Promise<string> {
    await ctx.cache.invalidate({ tags: [`stamp:${args.key}`] });
    return `invalidated ${args.key}`;
  }

  @McpTool({
    name: 'whoami_cached',
    description: 'Says which session asked. Cached per caller (principal scope): never shown to another caller.',
    input: z.object({}),
    annotations: { readOnlyHint: true },
    cache: { ttlMs: 60_000, scope: 'principal' },
  })
  whoamiCached(_args: Record<string, never>, ctx: CallContext): string {
    return `session ${ctx.sessionId ?? '(none)'} principal ${ctx.principal?.subject ?? '(none)'}`;
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
