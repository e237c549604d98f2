import { Module } from '@nestjs/common';
import { ConformancePrompts } from './conformance.prompts';
import { ConformanceResources } from './conformance.resources';
import { ConformanceTools } from './conformance.tools';
import { InputRequiredTools } from './input-required.tools';

@Module({ providers: [ConformanceTools, ConformanceResources, ConformancePrompts, InputRequiredTools] })
export class AppModule {}
