import { Module } from '@nestjs/common';
import { TestbedTools } from './testbed.tools';

@Module({ providers: [TestbedTools] })
export class AppModule {}
