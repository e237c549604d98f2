import { Injectable } from '@nestjs/common';
import { z } from 'zod';
import type { PromptResult } from '@fabric/contracts';
import { McpCompletion, McpPrompt } from '@fabric/service-kit';
import { TEST_IMAGE_BASE64 } from './fixtures';

const WITH_ARGUMENTS = 'test_prompt_with_arguments';

/** Prompts of the conformance suite's server scenarios. */
@Injectable()
export class ConformancePrompts {
  @McpPrompt({
    name: 'test_simple_prompt',
    title: 'Simple Test Prompt',
    description: 'A simple prompt without arguments',
  })
  simple(): string {
    return 'This is a simple prompt for testing.';
  }

  @McpPrompt({
    name: WITH_ARGUMENTS,
    title: 'Prompt With Arguments',
    description: 'A prompt with required arguments',
    arguments: z.object({
      arg1: z.string().describe('First test argument'),
      arg2: z.string().describe('Second test argument'),
    }),
  })
  withArguments(args: { arg1: string; arg2: string }): string {
    return `Prompt with arguments: arg1='${args.arg1}', arg2='${args.arg2}'`;
  }

  @McpCompletion({ prompt: WITH_ARGUMENTS, argument: 'arg1' })
  completeArg1(value: string): string[] {
    return ['testValue1', 'testValue2'].filter((candidate) => candidate.startsWith(value));
  }

  @McpPrompt({
    name: 'test_prompt_with_embedded_resource',
    title: 'Prompt With Embedded Resource',
    description: 'A prompt that includes an embedded resource',
    arguments: z.object({ resourceUri: z.string().describe('URI of the resource to embed') }),
  })
  withEmbeddedResource(args: { resourceUri: string }): PromptResult {
    return {
      messages: [
        {
          role: 'user',
          content: {
            type: 'resource',
            resource: { uri: args.resourceUri, mimeType: 'text/plain', text: 'Embedded resource content for testing.' },
          },
        },
        { role: 'user', content: { type: 'text', text: 'Please process the embedded resource above.' } },
      ],
    };
  }

  @McpPrompt({
    name: 'test_prompt_with_image',
    title: 'Prompt With Image',
    description: 'A prompt that includes image content',
  })
  withImage(): PromptResult {
    return {
      messages: [
        { role: 'user', content: { type: 'image', data: TEST_IMAGE_BASE64, mimeType: 'image/png' } },
        { role: 'user', content: { type: 'text', text: 'Please analyze the image above.' } },
      ],
    };
  }
}
