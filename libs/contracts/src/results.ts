// Results are relayed to MCP clients as they are, so their shapes are the MCP ones: the SDK's types
// (type-only imports: contracts stay free of run-time dependencies).
import type {
  CallToolResult,
  ContentBlock,
  CreateMessageRequest,
  CreateMessageResult,
  ElicitRequest,
  ElicitResult,
  GetPromptResult,
  ListRootsResult,
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

/** What a handler asks the client's model (`sampling/createMessage`). */
export type SamplingRequest = CreateMessageRequest['params'];
/** The client's model's answer. */
export type SamplingResult = CreateMessageResult;
/** What a handler asks the user (`elicitation/create`). */
export type ElicitationRequest = ElicitRequest['params'];
/** The user's answer: accept (with content), decline or cancel. */
export type ElicitationResult = ElicitResult;
/** The client's roots (`roots/list`): the directories or files it lets the server work in. */
export type RootsResult = ListRootsResult;
