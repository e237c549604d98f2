import { z } from 'zod';
import { InternalError } from '@fabric/contracts';
import { samplingText, toCompletionResult, toPromptResult, toResourceResult, toToolResult } from './results';

describe('toToolResult', () => {
  it('passes a ToolResult through as it is', () => {
    const result = { content: [{ type: 'text' as const, text: 'hi' }], isError: true };
    expect(toToolResult(result)).toBe(result);
  });

  it('passes a ToolResult through even when an output schema is declared', () => {
    const result = { content: [{ type: 'text' as const, text: 'hi' }] };
    expect(toToolResult(result, z.object({ total: z.number() }))).toBe(result);
  });

  it('with an output schema sends the value as structuredContent plus its JSON as text', () => {
    expect(toToolResult({ total: 3 }, z.object({ total: z.number() }))).toEqual({
      content: [{ type: 'text', text: JSON.stringify({ total: 3 }, null, 2) }],
      structuredContent: { total: 3 },
    });
  });

  it('with an output schema sends the parsed value (defaults applied, unknown keys stripped)', () => {
    const output = z.object({ total: z.number(), currency: z.string().default('EUR') });
    expect(toToolResult({ total: 3, secret: 'x' }, output).structuredContent).toEqual({ total: 3, currency: 'EUR' });
  });

  it('throws InternalError when the value does not match the output schema', () => {
    const attempt = () => toToolResult({ total: 'three' }, z.object({ total: z.number() }));
    expect(attempt).toThrow(InternalError);
    expect(attempt).toThrow('does not match its output schema');
  });

  it('sends a string as one text block', () => {
    expect(toToolResult('done')).toEqual({ content: [{ type: 'text', text: 'done' }] });
  });

  it('sends undefined and null as no content', () => {
    expect(toToolResult(undefined)).toEqual({ content: [] });
    expect(toToolResult(null)).toEqual({ content: [] });
  });

  it('sends any other value as its indented JSON', () => {
    expect(toToolResult([1, { a: 2 }])).toEqual({
      content: [{ type: 'text', text: JSON.stringify([1, { a: 2 }], null, 2) }],
    });
    expect(toToolResult(42)).toEqual({ content: [{ type: 'text', text: '42' }] });
  });
});

describe('toResourceResult', () => {
  it('passes a ResourceResult through as it is', () => {
    const result = { contents: [{ uri: 'x://1', blob: 'AAEC', mimeType: 'application/octet-stream' }] };
    expect(toResourceResult(result, 'x://1')).toBe(result);
  });

  it('sends a string as text/plain of the URI unless the resource declares a MIME type', () => {
    expect(toResourceResult('hello', 'x://1')).toEqual({
      contents: [{ uri: 'x://1', mimeType: 'text/plain', text: 'hello' }],
    });
    expect(toResourceResult('# hi', 'x://1', 'text/markdown')).toEqual({
      contents: [{ uri: 'x://1', mimeType: 'text/markdown', text: '# hi' }],
    });
  });

  it('sends any other value as application/json of the URI', () => {
    expect(toResourceResult({ a: 1 }, 'x://1')).toEqual({
      contents: [{ uri: 'x://1', mimeType: 'application/json', text: JSON.stringify({ a: 1 }, null, 2) }],
    });
  });
});

describe('toPromptResult', () => {
  it('sends a string as one user message, with the prompt description when there is one', () => {
    expect(toPromptResult('Summarise order 7', 'Summarises')).toEqual({
      description: 'Summarises',
      messages: [{ role: 'user', content: { type: 'text', text: 'Summarise order 7' } }],
    });
    expect(toPromptResult('Hi')).toEqual({ messages: [{ role: 'user', content: { type: 'text', text: 'Hi' } }] });
  });

  it('passes a PromptResult through as it is', () => {
    const result = { messages: [{ role: 'assistant' as const, content: { type: 'text' as const, text: 'ok' } }] };
    expect(toPromptResult(result, 'ignored')).toBe(result);
  });

  it('throws InternalError for anything else', () => {
    expect(() => toPromptResult({ text: 'no messages' })).toThrow(InternalError);
    expect(() => toPromptResult(undefined)).toThrow(InternalError);
  });
});

describe('toCompletionResult', () => {
  const many = (n: number) => Array.from({ length: n }, (_, i) => `v${i}`);

  it('sends a short list with its total and hasMore false', () => {
    expect(toCompletionResult(['a', 'b'])).toEqual({ values: ['a', 'b'], total: 2, hasMore: false });
  });

  it('caps a list at 100 values and says how many there were', () => {
    const result = toCompletionResult(many(150));
    expect(result.values).toEqual(many(100));
    expect(result.total).toBe(150);
    expect(result.hasMore).toBe(true);
  });

  it('keeps exactly 100 values without hasMore', () => {
    expect(toCompletionResult(many(100))).toMatchObject({ total: 100, hasMore: false });
  });

  it('turns non-string values into strings', () => {
    expect(toCompletionResult([1, true]).values).toEqual(['1', 'true']);
  });

  it('passes a CompletionResult through with its total and hasMore', () => {
    expect(toCompletionResult({ values: ['a'], total: 40, hasMore: true })).toEqual({
      values: ['a'],
      total: 40,
      hasMore: true,
    });
  });

  it('caps a CompletionResult at 100 values and says there are more', () => {
    const result = toCompletionResult({ values: many(150) });
    expect(result.values).toHaveLength(100);
    expect(result.hasMore).toBe(true);
  });

  it('throws InternalError for anything else', () => {
    expect(() => toCompletionResult('a')).toThrow(InternalError);
    expect(() => toCompletionResult({ items: [] })).toThrow(InternalError);
  });
});

describe('samplingText', () => {
  it('returns the text of a single content block', () => {
    expect(samplingText({ role: 'assistant', model: 'm', content: { type: 'text', text: 'hello' } })).toBe('hello');
  });

  it('joins the text blocks of an array of content, skipping the others', () => {
    const content = [
      { type: 'text', text: 'one' },
      { type: 'image', data: 'AA==', mimeType: 'image/png' },
      { type: 'text', text: 'two' },
    ];
    expect(samplingText({ role: 'assistant', model: 'm', content } as never)).toBe('one\ntwo');
  });

  it('returns an empty string when the answer has no text', () => {
    expect(
      samplingText({ role: 'assistant', model: 'm', content: { type: 'image', data: 'AA==', mimeType: 'image/png' } }),
    ).toBe('');
  });
});
