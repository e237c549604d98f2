import { Module } from '@nestjs/common';
import { PolicyPipeline } from './policy.pipeline';

/** The policy pipeline; its stages (auth, limits, cache, audit) are provided under `POLICY_STAGES`. */
@Module({ providers: [PolicyPipeline], exports: [PolicyPipeline] })
export class PolicyModule {}
