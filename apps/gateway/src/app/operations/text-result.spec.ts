import { CallToolResultSchema } from '@modelcontextprotocol/sdk/types.js';
import { isTextResult } from './text-result';

describe('isTextResult', () => {
  it.each([
    ['one text item', { content: [{ type: 'text', text: 'hi' }] }],
    ['no content items', { content: [] }],
    [
      'several text items and isError',
      {
        content: [
          { type: 'text', text: 'a' },
          { type: 'text', text: '' },
        ],
        isError: true,
      },
    ],
  ])('accepts %s, which the SDK schema accepts too', (_what, result) => {
    expect(isTextResult(result)).toBe(true);
    expect(CallToolResultSchema.safeParse(result).success).toBe(true);
  });

  it.each([
    ['structured content', { content: [], structuredContent: { a: 1 } }],
    ['an image item', { content: [{ type: 'image', data: 'AA==', mimeType: 'image/png' }] }],
    ['a text item with annotations', { content: [{ type: 'text', text: 'a', annotations: { priority: 1 } }] }],
    ['_meta', { content: [], _meta: { x: 1 } }],
    ['a text that is not a string', { content: [{ type: 'text', text: 1 }] }],
    ['isError that is not a boolean', { content: [], isError: 'yes' }],
    ['no content', { isError: false }],
    ['content that is not an array', { content: 'hi' }],
    ['null', null],
    ['a string', 'hi'],
  ])('leaves %s to the schema', (_what, result) => {
    expect(isTextResult(result)).toBe(false);
  });
});
