import { Inject, Injectable, Logger } from '@nestjs/common';
import { CallToolResultSchema, type CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import type { JsonSchema } from '@fabric/contracts';
import { ArgumentValidator } from './argument.validator';
import { isTextResult } from './text-result';

/** The text of a tool result that reports a failure (`isError`). */
export function toolError(text: string): CallToolResult {
  return { isError: true, content: [{ type: 'text', text }] };
}

/**
 * A service's tool result as the client may see it: MCP-shaped, and with structured content that matches
 * the tool's output schema. Anything else is the service's bug, reported as a tool error.
 */
@Injectable()
export class ToolResultChecker {
  private readonly log = new Logger('ToolResults');

  constructor(@Inject(ArgumentValidator) private readonly validator: ArgumentValidator) {}

  check(name: string, outputSchema: JsonSchema | undefined, reply: unknown): CallToolResult {
    let result: CallToolResult;
    if (isTextResult(reply)) {
      result = reply;
    } else {
      const parsed = CallToolResultSchema.safeParse(reply);
      if (!parsed.success) {
        this.log.warn({ tool: name }, 'a service returned a malformed tool result');
        return toolError(`Tool ${name} returned a malformed result`);
      }
      result = parsed.data;
    }
    if (!outputSchema || result.isError) return result;
    const invalid =
      result.structuredContent === undefined
        ? 'no structured content'
        : this.validator.validate(outputSchema, result.structuredContent);
    if (!invalid) return result;
    this.log.warn({ tool: name, problem: invalid }, 'a tool result does not match its output schema');
    return toolError(`Tool ${name} returned a result that does not match its output schema: ${invalid}`);
  }
}
