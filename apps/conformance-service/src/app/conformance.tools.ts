import { Injectable } from '@nestjs/common';
import { setTimeout as delay } from 'node:timers/promises';
import { z } from 'zod';
import type { ElicitationResult, ToolResult } from '@fabric/contracts';
import { McpTool, samplingText, type CallContext } from '@fabric/service-kit';
import { TEST_AUDIO_BASE64, TEST_IMAGE_BASE64 } from './fixtures';

const NO_ARGUMENTS = z.object({});

// The `id` puts the address in `$defs` and references it with `$ref` (SEP-1613's expected schema).
const ADDRESS = z.object({ street: z.string().optional(), city: z.string().optional() }).meta({ id: 'address' });

/** Sampling and elicitation wait for the client, which may wait for a person. */
const ASK_TIMEOUT_MS = 30_000;

function describeAnswer(answer: ElicitationResult): string {
  return `action=${answer.action}, content=${JSON.stringify(answer.content ?? {})}`;
}

/** Tools of the conformance suite's server scenarios (names and texts as the suite expects). */
@Injectable()
export class ConformanceTools {
  @McpTool({ name: 'test_simple_text', description: 'Tests simple text content response', input: NO_ARGUMENTS })
  simpleText(): ToolResult {
    return { content: [{ type: 'text', text: 'This is a simple text response for testing.' }] };
  }

  @McpTool({ name: 'test_image_content', description: 'Tests image content response', input: NO_ARGUMENTS })
  imageContent(): ToolResult {
    return { content: [{ type: 'image', data: TEST_IMAGE_BASE64, mimeType: 'image/png' }] };
  }

  @McpTool({ name: 'test_audio_content', description: 'Tests audio content response', input: NO_ARGUMENTS })
  audioContent(): ToolResult {
    return { content: [{ type: 'audio', data: TEST_AUDIO_BASE64, mimeType: 'audio/wav' }] };
  }

  @McpTool({
    name: 'test_embedded_resource',
    description: 'Tests embedded resource content response',
    input: NO_ARGUMENTS,
  })
  embeddedResource(): ToolResult {
    return {
      content: [
        {
          type: 'resource',
          resource: {
            uri: 'test://embedded-resource',
            mimeType: 'text/plain',
            text: 'This is an embedded resource content.',
          },
        },
      ],
    };
  }

  @McpTool({
    name: 'test_multiple_content_types',
    description: 'Tests response with multiple content types (text, image, resource)',
    input: NO_ARGUMENTS,
  })
  multipleContentTypes(): ToolResult {
    return {
      content: [
        { type: 'text', text: 'Multiple content types test:' },
        { type: 'image', data: TEST_IMAGE_BASE64, mimeType: 'image/png' },
        {
          type: 'resource',
          resource: {
            uri: 'test://mixed-content-resource',
            mimeType: 'application/json',
            text: JSON.stringify({ test: 'data', value: 123 }),
          },
        },
      ],
    };
  }

  @McpTool({ name: 'test_error_handling', description: 'Tests error response handling', input: NO_ARGUMENTS })
  errorHandling(): ToolResult {
    return { isError: true, content: [{ type: 'text', text: 'This tool intentionally returns an error for testing' }] };
  }

  @McpTool({
    name: 'test_tool_with_logging',
    description: 'Tests tool that emits log messages during execution',
    input: NO_ARGUMENTS,
  })
  async toolWithLogging(_args: object, ctx: CallContext): Promise<string> {
    ctx.log('info', 'Tool execution started');
    await delay(50, undefined, { signal: ctx.signal });
    ctx.log('info', 'Tool processing data');
    await delay(50, undefined, { signal: ctx.signal });
    ctx.log('info', 'Tool execution completed');
    return 'Tool with logging executed successfully';
  }

  @McpTool({
    name: 'test_tool_with_progress',
    description: 'Tests tool that reports progress notifications',
    input: NO_ARGUMENTS,
  })
  async toolWithProgress(_args: object, ctx: CallContext): Promise<string> {
    for (const progress of [0, 50, 100]) {
      if (progress > 0) await delay(50, undefined, { signal: ctx.signal });
      ctx.progress(progress, 100, `Completed step ${progress} of 100`);
    }
    return 'Progress tool completed';
  }

  @McpTool({
    name: 'json_schema_2020_12_tool',
    description: 'Tool with JSON Schema 2020-12 features',
    input: z.strictObject({ name: z.string().optional(), address: ADDRESS.optional() }),
  })
  jsonSchema202012(args: object): string {
    return `Received: ${JSON.stringify(args)}`;
  }

  @McpTool({
    name: 'test_sampling',
    description: 'Tests server-initiated sampling (LLM completion request)',
    input: z.object({ prompt: z.string().describe('The prompt to send to the LLM') }),
    timeoutMs: ASK_TIMEOUT_MS,
  })
  async sampling(args: { prompt: string }, ctx: CallContext): Promise<string> {
    const answer = await ctx.sample({
      messages: [{ role: 'user', content: { type: 'text', text: args.prompt } }],
      maxTokens: 100,
    });
    return `LLM response: ${samplingText(answer)}`;
  }

  @McpTool({
    name: 'test_elicitation',
    description: 'Tests server-initiated elicitation (user input request)',
    input: z.object({ message: z.string().describe('The message to show the user') }),
    timeoutMs: ASK_TIMEOUT_MS,
  })
  async elicitation(args: { message: string }, ctx: CallContext): Promise<string> {
    const answer = await ctx.elicit({
      message: args.message,
      requestedSchema: {
        type: 'object',
        properties: {
          username: { type: 'string', description: "User's response" },
          email: { type: 'string', description: "User's email address" },
        },
        required: ['username', 'email'],
      },
    });
    return `User response: ${describeAnswer(answer)}`;
  }

  @McpTool({
    name: 'test_elicitation_sep1034_defaults',
    description: 'Tests elicitation with default values for every primitive type (SEP-1034)',
    input: NO_ARGUMENTS,
    timeoutMs: ASK_TIMEOUT_MS,
  })
  async elicitationDefaults(_args: object, ctx: CallContext): Promise<string> {
    const answer = await ctx.elicit({
      message: 'Please review and update the form fields with defaults',
      requestedSchema: {
        type: 'object',
        properties: {
          name: { type: 'string', description: 'User name', default: 'John Doe' },
          age: { type: 'integer', description: 'User age', default: 30 },
          score: { type: 'number', description: 'User score', default: 95.5 },
          status: {
            type: 'string',
            description: 'User status',
            enum: ['active', 'inactive', 'pending'],
            default: 'active',
          },
          verified: { type: 'boolean', description: 'Verification status', default: true },
        },
        required: [],
      },
    });
    return `Elicitation completed: ${describeAnswer(answer)}`;
  }

  @McpTool({
    name: 'test_elicitation_sep1330_enums',
    description: 'Tests elicitation with the enum schema variants (SEP-1330)',
    input: NO_ARGUMENTS,
    timeoutMs: ASK_TIMEOUT_MS,
  })
  async elicitationEnums(_args: object, ctx: CallContext): Promise<string> {
    const answer = await ctx.elicit({
      message: 'Please select options from the enum fields',
      requestedSchema: {
        type: 'object',
        properties: {
          untitledSingle: { type: 'string', description: 'Choose an option', enum: ['option1', 'option2', 'option3'] },
          titledSingle: {
            type: 'string',
            description: 'Choose a titled option',
            oneOf: [
              { const: 'value1', title: 'First Option' },
              { const: 'value2', title: 'Second Option' },
              { const: 'value3', title: 'Third Option' },
            ],
          },
          legacyEnum: {
            type: 'string',
            description: 'Choose a legacy option',
            enum: ['opt1', 'opt2', 'opt3'],
            enumNames: ['Option One', 'Option Two', 'Option Three'],
          },
          untitledMulti: {
            type: 'array',
            description: 'Choose multiple options',
            items: { type: 'string', enum: ['option1', 'option2', 'option3'] },
          },
          titledMulti: {
            type: 'array',
            description: 'Choose multiple titled options',
            items: {
              anyOf: [
                { const: 'value1', title: 'First Choice' },
                { const: 'value2', title: 'Second Choice' },
                { const: 'value3', title: 'Third Choice' },
              ],
            },
          },
        },
      },
    });
    return `Elicitation completed: ${describeAnswer(answer)}`;
  }

  // The 2026-07-28 scenarios (server-stateless, http-custom-header-server-validation).

  @McpTool({
    name: 'test_missing_capability',
    description: 'Asks the client for sampling: refused (-32021) when the client did not declare it',
    input: NO_ARGUMENTS,
    timeoutMs: ASK_TIMEOUT_MS,
  })
  async missingCapability(_args: object, ctx: CallContext): Promise<string> {
    const answer = await ctx.sample({
      messages: [{ role: 'user', content: { type: 'text', text: 'Say hello' } }],
      maxTokens: 10,
    });
    return `LLM response: ${samplingText(answer)}`;
  }

  @McpTool({
    name: 'test_logging_tool',
    description: 'Emits a log message: none reaches a client that set no log level',
    input: NO_ARGUMENTS,
  })
  loggingTool(_args: object, ctx: CallContext): string {
    ctx.log('info', 'test_logging_tool ran');
    return 'Logged one message';
  }

  @McpTool({
    name: 'test_header_param',
    description: 'Echoes its region, which the client also sends in the Mcp-Param-Region header',
    input: z.object({ region: z.string().meta({ 'x-mcp-header': 'Region' }) }),
  })
  headerParam(args: { region: string }): string {
    return `Region: ${args.region}`;
  }
}
