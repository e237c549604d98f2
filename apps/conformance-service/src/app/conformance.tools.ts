import { Injectable } from '@nestjs/common';
import { z } from 'zod';
import type { ToolResult } from '@fabric/contracts';
import { McpTool } from '@fabric/service-kit';
import { TEST_AUDIO_BASE64, TEST_IMAGE_BASE64 } from './fixtures';

const NO_ARGUMENTS = z.object({});

/** Tools of the conformance suite's server scenarios whose results are plain content (names as the suite expects). */
@Injectable()
export class ConformanceTools {
  @McpTool({ name: 'test_simple_text', description: 'Tests simple text content response', input: NO_ARGUMENTS })
  simpleText(): ToolResult {
    return { content: [{ type: 'text', text: 'This is a simple text response for testing.' }] };
  }

  @McpTool({ name: 'test_image_content', description: 'Tests image content response', input: NO_ARGUMENTS })
  imageContent(): ToolResult {
    return { content: [{ type: 'image', data: TEST_IMAGE_BASE64, mimeType: 'image/png' }] };
  }

  @McpTool({ name: 'test_audio_content', description: 'Tests audio content response', input: NO_ARGUMENTS })
  audioContent(): ToolResult {
    return { content: [{ type: 'audio', data: TEST_AUDIO_BASE64, mimeType: 'audio/wav' }] };
  }

  @McpTool({
    name: 'test_embedded_resource',
    description: 'Tests embedded resource content response',
    input: NO_ARGUMENTS,
  })
  embeddedResource(): ToolResult {
    return {
      content: [
        {
          type: 'resource',
          resource: {
            uri: 'test://embedded-resource',
            mimeType: 'text/plain',
            text: 'This is an embedded resource content.',
          },
        },
      ],
    };
  }

  @McpTool({
    name: 'test_multiple_content_types',
    description: 'Tests response with multiple content types (text, image, resource)',
    input: NO_ARGUMENTS,
  })
  multipleContentTypes(): ToolResult {
    return {
      content: [
        { type: 'text', text: 'Multiple content types test:' },
        { type: 'image', data: TEST_IMAGE_BASE64, mimeType: 'image/png' },
        {
          type: 'resource',
          resource: {
            uri: 'test://mixed-content-resource',
            mimeType: 'application/json',
            text: JSON.stringify({ test: 'data', value: 123 }),
          },
        },
      ],
    };
  }

  @McpTool({ name: 'test_error_handling', description: 'Tests error response handling', input: NO_ARGUMENTS })
  errorHandling(): ToolResult {
    return { isError: true, content: [{ type: 'text', text: 'This tool intentionally returns an error for testing' }] };
  }
}
