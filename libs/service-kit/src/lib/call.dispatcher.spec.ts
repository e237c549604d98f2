import { z } from 'zod';
import { InternalError, InvalidArgumentError, NotFoundError, type CallRequest } from '@fabric/contracts';
import type { CallContext, ResourceContext } from './call-context';
import { detachedCallContext } from './call.channel';
import { dispatchCall } from './call.dispatcher';
import { McpCompletion, McpPrompt, McpResource, McpResourceTemplate, McpTool } from './decorators';
import { HandlerTable } from './handler.table';

class OrderHandlers {
  lastContext?: CallContext;
  lastResourceContext?: ResourceContext;

  @McpTool({
    name: 'find_order',
    description: 'Finds an order',
    input: z.object({
      id: z.string(),
      limit: z.number().int().default(5),
      filter: z.object({ status: z.enum(['open', 'closed']) }).optional(),
    }),
  })
  findOrder(args: { id: string; limit: number }, ctx: CallContext) {
    this.lastContext = ctx;
    return `order ${args.id} limit ${args.limit}`;
  }

  @McpTool({ name: 'total', description: 'Total', input: z.object({}), output: z.object({ total: z.number() }) })
  total() {
    return { total: 'not a number' };
  }

  @McpResource({ uri: 'orders://recent', name: 'recent', mimeType: 'text/csv' })
  recent(ctx: ResourceContext) {
    this.lastResourceContext = ctx;
    return `id\n7 from ${ctx.uri}`;
  }

  @McpResourceTemplate({ uriTemplate: 'orders://{id}', name: 'order' })
  order(params: Record<string, string>, ctx: ResourceContext) {
    return { id: params['id'], uri: ctx.uri };
  }

  @McpPrompt({
    name: 'summarise',
    description: 'Summarises an order',
    arguments: z.object({ id: z.string(), style: z.string().optional() }),
  })
  summarise(args: { id: string; style?: string }) {
    return `Summarise order ${args.id} ${args.style ?? 'briefly'}`;
  }

  @McpCompletion({ prompt: 'summarise', argument: 'id' })
  completeOrderId(value: string) {
    return ['7', '70', '8'].filter((id) => id.startsWith(value));
  }

  @McpCompletion({ resourceTemplate: 'order', argument: 'id' })
  completeTemplateId(value: string, context: Record<string, string>) {
    return [`${value}-${context['region'] ?? 'any'}`];
  }
}

const handlers = new OrderHandlers();
const table = new HandlerTable({ service: 'orders', version: '1.0.0' }, [handlers]);
const ctx = detachedCallContext({
  callId: 'call-1',
  deadline: Date.now() + 60_000,
  principal: { subject: 'ada', scopes: [] },
});
const call = (request: Partial<CallRequest> & Pick<CallRequest, 'operation' | 'name'>) =>
  dispatchCall(table, { id: 'call-1', deadline: ctx.deadline, ...request }, ctx);

async function rejection(promise: Promise<unknown>): Promise<Error> {
  try {
    await promise;
  } catch (error) {
    return error as Error;
  }
  throw new Error('expected the call to fail');
}

describe('dispatchCall', () => {
  describe('tools.call', () => {
    it('runs the tool with parsed arguments (defaults applied) and returns an MCP tool result', async () => {
      await expect(call({ operation: 'tools.call', name: 'find_order', arguments: { id: '7' } })).resolves.toEqual({
        content: [{ type: 'text', text: 'order 7 limit 5' }],
      });
    });

    it('passes the call context to the handler', async () => {
      await call({ operation: 'tools.call', name: 'find_order', arguments: { id: '7' } });
      expect(handlers.lastContext).toBe(ctx);
    });

    it('rejects arguments of the wrong type with InvalidArgumentError naming the field', async () => {
      const error = await rejection(call({ operation: 'tools.call', name: 'find_order', arguments: { id: 7 } }));
      expect(error).toBeInstanceOf(InvalidArgumentError);
      expect(error.message).toMatch(/^Invalid arguments for find_order: id: /);
    });

    it('names a nested field by its dotted path', async () => {
      const error = await rejection(
        call({ operation: 'tools.call', name: 'find_order', arguments: { id: '7', filter: { status: 'lost' } } }),
      );
      expect(error).toBeInstanceOf(InvalidArgumentError);
      expect(error.message).toContain('filter.status: ');
    });

    it('names a missing required field when the call has no arguments at all', async () => {
      const error = await rejection(call({ operation: 'tools.call', name: 'find_order' }));
      expect(error).toBeInstanceOf(InvalidArgumentError);
      expect(error.message).toMatch(/: id: /);
    });

    it('throws NotFoundError for an unknown tool', async () => {
      const error = await rejection(call({ operation: 'tools.call', name: 'delete_order' }));
      expect(error).toBeInstanceOf(NotFoundError);
      expect(error.message).toBe('Unknown tool: delete_order');
    });

    it('throws InternalError when the result does not match the declared output schema', async () => {
      await expect(call({ operation: 'tools.call', name: 'total' })).rejects.toBeInstanceOf(InternalError);
    });
  });

  describe('resources.read', () => {
    it('reads a fixed resource by its URI, with its declared MIME type', async () => {
      await expect(call({ operation: 'resources.read', name: 'recent', uri: 'orders://recent' })).resolves.toEqual({
        contents: [{ uri: 'orders://recent', mimeType: 'text/csv', text: 'id\n7 from orders://recent' }],
      });
    });

    it('gives the resource handler the call context with its client methods, plus the URI', async () => {
      await call({ operation: 'resources.read', name: 'recent', uri: 'orders://recent' });
      expect(handlers.lastResourceContext).toMatchObject({ callId: 'call-1', uri: 'orders://recent' });
      for (const method of ['progress', 'log', 'sample', 'elicit'] as const) {
        expect(handlers.lastResourceContext![method]).toBe(ctx[method]);
      }
    });

    it('reads a template with the matched params and the requested URI', async () => {
      const result = await call({ operation: 'resources.read', name: 'order', uri: 'orders://7', params: { id: '7' } });
      expect(result).toEqual({
        contents: [
          {
            uri: 'orders://7',
            mimeType: 'application/json',
            text: JSON.stringify({ id: '7', uri: 'orders://7' }, null, 2),
          },
        ],
      });
    });

    it('throws NotFoundError naming the URI of an unknown resource', async () => {
      const error = await rejection(
        call({ operation: 'resources.read', name: 'nothing', uri: 'orders://nothing/here' }),
      );
      expect(error).toBeInstanceOf(NotFoundError);
      expect(error.message).toBe('Unknown resource: orders://nothing/here');
    });
  });

  describe('prompts.get', () => {
    it('renders the prompt with its arguments and description', async () => {
      await expect(
        call({ operation: 'prompts.get', name: 'summarise', arguments: { id: '7', style: 'in French' } }),
      ).resolves.toEqual({
        description: 'Summarises an order',
        messages: [{ role: 'user', content: { type: 'text', text: 'Summarise order 7 in French' } }],
      });
    });

    it('rejects a missing required argument with InvalidArgumentError naming it', async () => {
      const error = await rejection(call({ operation: 'prompts.get', name: 'summarise', arguments: {} }));
      expect(error).toBeInstanceOf(InvalidArgumentError);
      expect(error.message).toMatch(/^Invalid arguments for prompt summarise: id: /);
    });

    it('throws NotFoundError for an unknown prompt', async () => {
      await expect(call({ operation: 'prompts.get', name: 'nope' })).rejects.toThrow(
        new NotFoundError('Unknown prompt: nope'),
      );
    });
  });

  describe('completion.complete', () => {
    it('completes a prompt argument', async () => {
      await expect(
        call({ operation: 'completion.complete', name: 'summarise', completion: { argument: 'id', value: '7' } }),
      ).resolves.toEqual({
        values: ['7', '70'],
        total: 2,
        hasMore: false,
      });
    });

    it('completes a template variable with the values already chosen', async () => {
      const result = await call({
        operation: 'completion.complete',
        name: 'order',
        completion: { argument: 'id', value: '4', context: { region: 'eu' } },
      });
      expect(result).toEqual({ values: ['4-eu'], total: 1, hasMore: false });
    });

    it('answers no values for an argument nobody completes', async () => {
      await expect(
        call({ operation: 'completion.complete', name: 'summarise', completion: { argument: 'style', value: '' } }),
      ).resolves.toEqual({
        values: [],
        total: 0,
        hasMore: false,
      });
    });

    it('rejects a completion request without { argument, value }', async () => {
      await expect(call({ operation: 'completion.complete', name: 'summarise' })).rejects.toBeInstanceOf(
        InvalidArgumentError,
      );
    });
  });
});
