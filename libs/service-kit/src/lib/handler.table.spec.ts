import { z } from 'zod';
import { McpCompletion, McpPrompt, McpResource, McpResourceTemplate, McpTool } from './decorators';
import { DuplicateHandlerError, HandlerTable, completionKey } from './handler.table';
import type { CallContext } from './call-context';

const identity = { service: 'orders', version: '2.0.0' };
const ctx = { callId: 'c1', signal: new AbortController().signal, deadline: Date.now() + 1_000 } as CallContext;

class OrderTools {
  readonly prefix = 'order';

  @McpTool({ name: 'find_order', description: 'Finds an order', input: z.object({ id: z.string() }) })
  find(args: { id: string }) {
    return `${this.prefix} ${args.id}`;
  }

  @McpResource({ uri: 'orders://recent', name: 'recent' })
  recent() {
    return 'recent orders';
  }

  @McpResourceTemplate({ uriTemplate: 'orders://{id}', name: 'order' })
  one(params: Record<string, string>) {
    return params['id'];
  }

  @McpPrompt({ name: 'summarise', arguments: z.object({ id: z.string() }) })
  summarise(args: { id: string }) {
    return `Summarise ${args.id}`;
  }

  @McpCompletion({ prompt: 'summarise', argument: 'id' })
  completeId() {
    return ['1', '2'];
  }

  undecorated() {
    return 'not a handler';
  }
}

class CustomerTools {
  @McpTool({ name: 'find_customer', description: 'Finds a customer', input: z.object({}) })
  find() {
    return 'customer';
  }
}

describe('HandlerTable', () => {
  it('collects every decorated method of the given instances by kind and name', () => {
    const table = new HandlerTable(identity, [new OrderTools(), new CustomerTools()]);
    expect([...table.tools.keys()]).toEqual(['find_order', 'find_customer']);
    expect([...table.resources.keys()]).toEqual(['orders://recent']);
    expect([...table.resourceTemplates.keys()]).toEqual(['order']);
    expect([...table.prompts.keys()]).toEqual(['summarise']);
    expect([...table.completions.keys()]).toEqual([completionKey({ prompt: 'summarise', argument: 'id' })]);
  });

  it('binds each handler to its instance', async () => {
    const table = new HandlerTable(identity, [new OrderTools()]);
    expect(await table.tools.get('find_order')!.handler({ id: '7' }, ctx)).toBe('order 7');
  });

  it('builds the manifest from the collected declarations', () => {
    const table = new HandlerTable(identity, [new OrderTools(), new CustomerTools()]);
    expect(table.manifest).toMatchObject({
      service: 'orders',
      version: '2.0.0',
      tools: [{ name: 'find_order' }, { name: 'find_customer' }],
      resources: [{ uri: 'orders://recent' }],
      resourceTemplates: [{ name: 'order' }],
      prompts: [{ name: 'summarise', completable: ['id'] }],
    });
  });

  it('ignores plain objects and instances without decorated methods', () => {
    class Plain {
      method() {
        return 1;
      }
    }
    const table = new HandlerTable(identity, [{ a: 1 }, new Plain()]);
    expect(table.tools.size + table.resources.size + table.prompts.size).toBe(0);
    expect(table.manifest.tools).toEqual([]);
  });

  it('gives the zod input schema of a tool, and undefined for an unknown tool', () => {
    const table = new HandlerTable(identity, [new OrderTools()]);
    expect(table.inputSchemaOf('find_order')!.safeParse({ id: 1 }).success).toBe(false);
    expect(table.inputSchemaOf('nope')).toBeUndefined();
  });

  it('throws DuplicateHandlerError when two instances declare the same tool name', () => {
    class OtherOrderTools {
      @McpTool({ name: 'find_order', description: 'Another', input: z.object({}) })
      find() {
        return 'other';
      }
    }
    expect(() => new HandlerTable(identity, [new OrderTools(), new OtherOrderTools()])).toThrow(DuplicateHandlerError);
    expect(() => new HandlerTable(identity, [new OrderTools(), new OtherOrderTools()])).toThrow(
      'Two handlers declare the tool "find_order"',
    );
  });

  it('throws DuplicateHandlerError when two methods of one class declare the same resource URI', () => {
    class TwoResources {
      @McpResource({ uri: 'orders://recent', name: 'a' })
      a() {
        return 'a';
      }

      @McpResource({ uri: 'orders://recent', name: 'b' })
      b() {
        return 'b';
      }
    }
    const attempt = () => new HandlerTable(identity, [new TwoResources()]);
    expect(attempt).toThrow(DuplicateHandlerError);
    expect(attempt).toThrow(expect.objectContaining({ name: 'DuplicateHandlerError' }));
  });

  it('throws DuplicateHandlerError for a second completion of the same prompt argument', () => {
    class MoreCompletions {
      @McpCompletion({ prompt: 'summarise', argument: 'id' })
      again() {
        return [];
      }
    }
    expect(() => new HandlerTable(identity, [new OrderTools(), new MoreCompletions()])).toThrow(
      'Two handlers declare the completion "prompt:summarise:id"',
    );
  });
});
