// Results are relayed to MCP clients as they are, so their shapes are the MCP ones: the SDK's types
// (type-only imports: contracts stay free of run-time dependencies).
import type {
  CallToolResult,
  ContentBlock,
  GetPromptResult,
  PromptMessage,
  ReadResourceResult,
} from '@modelcontextprotocol/sdk/types.js';

/** Reply of `tools.call`: content blocks, optional structured content, `isError` for a tool-level failure. */
export type ToolResult = CallToolResult;
/** Reply of `resources.read`. */
export type ResourceResult = ReadResourceResult;
/** Reply of `prompts.get`. */
export type PromptResult = GetPromptResult;
export type { ContentBlock, PromptMessage };
