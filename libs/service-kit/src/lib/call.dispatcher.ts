import { z } from 'zod';
import { InvalidArgumentError, NotFoundError, type CallRequest } from '@fabric/contracts';
import type { CallContext } from './call-context';
import { completionKey, type HandlerTable } from './handler.table';
import { toCompletionResult, toPromptResult, toResourceResult, toToolResult } from './results';

/** Names the offending fields of a failed zod validation, for a message a model can act on. */
export function describeIssues(error: z.ZodError): string {
  return error.issues
    .map((issue) => `${issue.path.length > 0 ? issue.path.join('.') : '(arguments)'}: ${issue.message}`)
    .join('; ');
}

/** Runs one call against the service's handlers and returns the operation's result (MCP-shaped). */
export async function dispatchCall(table: HandlerTable, request: CallRequest, ctx: CallContext): Promise<unknown> {
  switch (request.operation) {
    case 'tools.call': {
      const tool = table.tools.get(request.name);
      if (!tool) throw new NotFoundError(`Unknown tool: ${request.name}`);
      const parsed = tool.options.input.safeParse(request.arguments ?? {});
      if (!parsed.success)
        throw new InvalidArgumentError(`Invalid arguments for ${request.name}: ${describeIssues(parsed.error)}`);
      return toToolResult(await tool.handler(parsed.data as Record<string, unknown>, ctx), tool.options.output);
    }
    case 'resources.read': {
      const uri = request.uri ?? '';
      const resource = table.resources.get(request.name) ?? table.resources.get(uri);
      if (resource) return toResourceResult(await resource.handler({ ...ctx, uri }), uri, resource.options.mimeType);
      const template = table.resourceTemplates.get(request.name);
      if (!template) throw new NotFoundError(`Unknown resource: ${uri || request.name}`);
      const result = await template.handler(request.params ?? {}, { ...ctx, uri });
      return toResourceResult(result, uri, template.options.mimeType);
    }
    case 'prompts.get': {
      const prompt = table.prompts.get(request.name);
      if (!prompt) throw new NotFoundError(`Unknown prompt: ${request.name}`);
      const schema = prompt.options.arguments ?? z.object({});
      const parsed = schema.safeParse(request.arguments ?? {});
      if (!parsed.success)
        throw new InvalidArgumentError(`Invalid arguments for prompt ${request.name}: ${describeIssues(parsed.error)}`);
      return toPromptResult(
        await prompt.handler(parsed.data as Record<string, string>, ctx),
        prompt.options.description,
      );
    }
    case 'completion.complete': {
      const completion = request.completion;
      if (!completion) throw new InvalidArgumentError('completion.complete needs { argument, value }');
      const target = table.prompts.has(request.name)
        ? { prompt: request.name, argument: completion.argument }
        : { resourceTemplate: request.name, argument: completion.argument };
      const handler = table.completions.get(completionKey(target));
      if (!handler) return { values: [], total: 0, hasMore: false };
      return toCompletionResult(await handler.handler(completion.value, completion.context ?? {}, ctx));
    }
  }
}
