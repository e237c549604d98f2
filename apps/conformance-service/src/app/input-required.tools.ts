import { Injectable } from '@nestjs/common';
import { z } from 'zod';
import type { ElicitationRequest, ElicitationResult, PromptResult } from '@fabric/contracts';
import { McpPrompt, McpTool, samplingText, type CallContext } from '@fabric/service-kit';

const NO_ARGUMENTS = z.object({});

/** The handler waits for the client's answer, which may come in a later HTTP request (2026-07-28). */
const ASK_TIMEOUT_MS = 30_000;

/** A form asking for one string field. */
function askFor(message: string, field: string): ElicitationRequest {
  return {
    message,
    requestedSchema: { type: 'object', properties: { [field]: { type: 'string' } }, required: [field] },
  };
}

const CONFIRM: ElicitationRequest = {
  message: 'Please confirm',
  requestedSchema: { type: 'object', properties: { ok: { type: 'boolean' } }, required: ['ok'] },
};

function field(answer: ElicitationResult, name: string): string {
  return answer.action === 'accept' ? String(answer.content?.[name] ?? '') : `(${answer.action})`;
}

/**
 * The fixtures of the suite's input-required (MRTR, SEP-2322) scenarios. The handlers just ask with
 * `ctx.elicit`/`ctx.sample`/`ctx.roots`, naming each request with the key the suite expects: the gateway turns them into
 * input-required results on 2026-07-28 and pushes them on a 2025-11-25 session.
 */
@Injectable()
export class InputRequiredTools {
  @McpTool({
    name: 'test_input_required_result_elicitation',
    description: 'Asks the user for a name, then greets them',
    input: NO_ARGUMENTS,
    timeoutMs: ASK_TIMEOUT_MS,
  })
  async elicitation(_args: object, ctx: CallContext): Promise<string> {
    const answer = await ctx.elicit(askFor('What is your name?', 'name'), { key: 'user_name' });
    return `Hello, ${field(answer, 'name')}!`;
  }

  @McpTool({
    name: 'test_input_required_result_sampling',
    description: "Asks the client's model a question",
    input: NO_ARGUMENTS,
    timeoutMs: ASK_TIMEOUT_MS,
  })
  async sampling(_args: object, ctx: CallContext): Promise<string> {
    const answer = await ctx.sample(
      {
        messages: [{ role: 'user', content: { type: 'text', text: 'What is the capital of France?' } }],
        maxTokens: 100,
      },
      { key: 'capital_question' },
    );
    return `LLM response: ${samplingText(answer)}`;
  }

  @McpTool({
    name: 'test_input_required_result_list_roots',
    description: 'Asks the client for its roots and names them',
    input: NO_ARGUMENTS,
    timeoutMs: ASK_TIMEOUT_MS,
  })
  async listRoots(_args: object, ctx: CallContext): Promise<string> {
    const { roots } = await ctx.roots({ key: 'client_roots' });
    return `Roots: ${roots.map((root) => root.uri).join(', ')}`;
  }

  @McpTool({
    name: 'test_input_required_result_multiple_inputs',
    description: 'Asks the user, the model and the client at once: one input-required result carries all three',
    input: NO_ARGUMENTS,
    timeoutMs: ASK_TIMEOUT_MS,
  })
  async multipleInputs(_args: object, ctx: CallContext): Promise<string> {
    const [name, greeting, { roots }] = await Promise.all([
      ctx.elicit(askFor('What is your name?', 'name'), { key: 'user_name' }),
      ctx.sample(
        { messages: [{ role: 'user', content: { type: 'text', text: 'Generate a greeting' } }], maxTokens: 50 },
        { key: 'greeting' },
      ),
      ctx.roots({ key: 'client_roots' }),
    ]);
    return `${samplingText(greeting)} ${field(name, 'name')} (${roots.length} roots)`;
  }

  @McpTool({
    name: 'test_input_required_result_request_state',
    description: 'Asks for a confirmation; the answer arrives with the sealed requestState',
    input: NO_ARGUMENTS,
    timeoutMs: ASK_TIMEOUT_MS,
  })
  async requestState(_args: object, ctx: CallContext): Promise<string> {
    const answer = await ctx.elicit(CONFIRM, { key: 'confirm' });
    return `state-ok: ${field(answer, 'ok')}`;
  }

  @McpTool({
    name: 'test_input_required_result_multi_round',
    description: 'Asks two questions, one after the other',
    input: NO_ARGUMENTS,
    timeoutMs: ASK_TIMEOUT_MS,
  })
  async multiRound(_args: object, ctx: CallContext): Promise<string> {
    const name = await ctx.elicit(askFor('Step 1: What is your name?', 'name'), { key: 'step1' });
    const color = await ctx.elicit(askFor('Step 2: What is your favorite color?', 'color'), { key: 'step2' });
    return `${field(name, 'name')} likes ${field(color, 'color')}`;
  }

  @McpTool({
    name: 'test_input_required_result_tampered_state',
    description: 'Asks for a confirmation; a tampered requestState is refused by the gateway',
    input: NO_ARGUMENTS,
    timeoutMs: ASK_TIMEOUT_MS,
  })
  async tamperedState(_args: object, ctx: CallContext): Promise<string> {
    const answer = await ctx.elicit(CONFIRM, { key: 'confirm' });
    return `confirmed: ${field(answer, 'ok')}`;
  }

  // The suite's client declares sampling only: the fixture asks only for what such a client can give.
  @McpTool({
    name: 'test_input_required_result_capabilities',
    description: "Asks the client's model (the capability the suite's client declares)",
    input: NO_ARGUMENTS,
    timeoutMs: ASK_TIMEOUT_MS,
  })
  async capabilities(_args: object, ctx: CallContext): Promise<string> {
    const answer = await ctx.sample(
      { messages: [{ role: 'user', content: { type: 'text', text: 'Say hello' } }], maxTokens: 10 },
      { key: 'greeting' },
    );
    return `LLM response: ${samplingText(answer)}`;
  }

  @McpTool({
    name: 'test_streaming_elicitation',
    description: 'Asks the user while it runs: the response carries an input-required result, never a request',
    input: NO_ARGUMENTS,
    timeoutMs: ASK_TIMEOUT_MS,
  })
  async streamingElicitation(_args: object, ctx: CallContext): Promise<string> {
    ctx.progress(1, 2, 'asking the user');
    const answer = await ctx.elicit(askFor('What should I work on?', 'task'));
    return `Working on ${field(answer, 'task')}`;
  }

  @McpPrompt({
    name: 'test_input_required_result_prompt',
    description: 'A prompt that asks the user for its context first',
  })
  async prompt(_args: Record<string, string>, ctx: CallContext): Promise<PromptResult> {
    const answer = await ctx.elicit(askFor('What context should the prompt use?', 'context'), {
      key: 'user_context',
    });
    return {
      messages: [{ role: 'user', content: { type: 'text', text: `Use this context: ${field(answer, 'context')}` } }],
    };
  }
}
