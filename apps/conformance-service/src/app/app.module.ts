import { Module } from '@nestjs/common';
import { ConformancePrompts } from './conformance.prompts';
import { ConformanceResources } from './conformance.resources';
import { ConformanceTools } from './conformance.tools';

@Module({ providers: [ConformanceTools, ConformanceResources, ConformancePrompts] })
export class AppModule {}
