import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js';

/**
 * The common tool result, checked by hand: `content` of text items only (`type` and `text`), and at most an
 * `isError` flag besides. A strict subset of what `CallToolResultSchema` accepts; anything else is parsed
 * with the schema.
 */
export function isTextResult(value: unknown): value is CallToolResult {
  if (typeof value !== 'object' || value === null) return false;
  let keys = 0;
  for (const key in value) {
    keys++;
    if (key !== 'content' && key !== 'isError') return false;
  }
  const { content, isError } = value as { content?: unknown; isError?: unknown };
  if (!Array.isArray(content) || (isError !== undefined && typeof isError !== 'boolean')) return false;
  if (keys !== (isError === undefined ? 1 : 2)) return false;
  for (const item of content) {
    if (typeof item !== 'object' || item === null || item.type !== 'text' || typeof item.text !== 'string')
      return false;
    let itemKeys = 0;
    for (const _key in item) itemKeys++;
    if (itemKeys !== 2) return false;
  }
  return true;
}
