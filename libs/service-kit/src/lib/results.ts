import type { z } from 'zod';
import type { CompletionResult, PromptResult, ResourceResult, SamplingResult, ToolResult } from '@fabric/contracts';
import { InternalError } from '@fabric/contracts';

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function isToolResult(value: unknown): value is ToolResult {
  return isObject(value) && Array.isArray(value['content']);
}

/** Turns what a tool handler returned into the MCP tool result (see `ToolReturn`). */
export function toToolResult(value: unknown, output?: z.ZodType): ToolResult {
  if (isToolResult(value)) return value;
  if (output) {
    const parsed = output.safeParse(value);
    if (!parsed.success) {
      throw new InternalError('The tool produced a result that does not match its output schema', {
        cause: parsed.error,
      });
    }
    return {
      content: [{ type: 'text', text: JSON.stringify(parsed.data, null, 2) }],
      structuredContent: parsed.data as Record<string, unknown>,
    };
  }
  if (typeof value === 'string') return { content: [{ type: 'text', text: value }] };
  if (value === undefined || value === null) return { content: [] };
  return { content: [{ type: 'text', text: JSON.stringify(value, null, 2) }] };
}

/** Turns what a resource handler returned into the MCP read result for `uri`. */
export function toResourceResult(value: unknown, uri: string, mimeType?: string): ResourceResult {
  if (isObject(value) && Array.isArray(value['contents'])) return value as ResourceResult;
  if (typeof value === 'string') return { contents: [{ uri, mimeType: mimeType ?? 'text/plain', text: value }] };
  if (value === undefined || value === null) throw new InternalError('The resource handler returned nothing');
  return { contents: [{ uri, mimeType: mimeType ?? 'application/json', text: JSON.stringify(value, null, 2) }] };
}

/** Turns what a prompt handler returned into the MCP prompt result. */
export function toPromptResult(value: unknown, description?: string): PromptResult {
  if (typeof value === 'string') {
    return {
      ...(description ? { description } : {}),
      messages: [{ role: 'user', content: { type: 'text', text: value } }],
    };
  }
  if (isObject(value) && Array.isArray(value['messages'])) return value as PromptResult;
  throw new InternalError('The prompt handler returned neither a string nor { messages }');
}

/** MCP allows at most 100 completion values per response. */
const MAX_COMPLETIONS = 100;

/** Turns what a completion handler returned into a completion result of at most 100 values. */
export function toCompletionResult(value: unknown): CompletionResult {
  if (Array.isArray(value)) {
    const values = value.map(String);
    return { values: values.slice(0, MAX_COMPLETIONS), total: values.length, hasMore: values.length > MAX_COMPLETIONS };
  }
  if (isObject(value) && Array.isArray(value['values'])) {
    const result = value as CompletionResult;
    if (result.values.length <= MAX_COMPLETIONS) return result;
    return {
      values: result.values.slice(0, MAX_COMPLETIONS),
      total: result.total ?? result.values.length,
      hasMore: true,
    };
  }
  throw new InternalError('The completion handler returned neither string[] nor { values }');
}

/** The text of a model's answer (`ctx.sample`): its text blocks, joined by new lines. */
export function samplingText(result: SamplingResult): string {
  // Clients on newer protocol versions may answer with an array of blocks.
  const content: unknown = result.content;
  const blocks = Array.isArray(content) ? (content as unknown[]) : [content];
  return blocks
    .filter(
      (block): block is { type: 'text'; text: string } =>
        isObject(block) && block['type'] === 'text' && typeof block['text'] === 'string',
    )
    .map((block) => block.text)
    .join('\n');
}
