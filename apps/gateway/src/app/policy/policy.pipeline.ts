import { Inject, Injectable, Optional } from '@nestjs/common';
import { tracingEnabled } from '@fabric/platform-observability';
import type { OperationRequest } from '../operations/operation';
import { traceOperation } from '../operations/operation.span';
import { POLICY_STAGES, type PolicyStage } from './policy.stage';

/**
 * The ordered pipeline every operation passes exactly once, from whichever protocol era it came:
 * audit → authorize → rate limit → cache (authentication happens before, at the HTTP edge; the audit stage
 * comes first so that it sees every later stage's refusals and cache hits). With no
 * stage, an operation goes straight to its execution (the hot path pays nothing for the pipeline).
 */
@Injectable()
export class PolicyPipeline {
  private readonly stages: readonly PolicyStage[];

  constructor(@Optional() @Inject(POLICY_STAGES) stages?: PolicyStage[]) {
    this.stages = stages ?? [];
  }

  /** The names of the stages, in order. */
  get stageNames(): string[] {
    return this.stages.map((stage) => stage.name);
  }

  /** Runs `request` through every stage, then `execute` (unless a stage answered or refused it). */
  run<T>(request: OperationRequest, execute: () => Promise<T>): Promise<T> {
    // Every operation passes here once: with tracing on, this is where its span starts.
    if (tracingEnabled()) return traceOperation(request, () => this.runStages(request, execute));
    return this.runStages(request, execute);
  }

  private runStages<T>(request: OperationRequest, execute: () => Promise<T>): Promise<T> {
    if (this.stages.length === 0) return execute();
    const step = (index: number): Promise<unknown> =>
      index === this.stages.length ? execute() : this.stages[index].handle(request, () => step(index + 1));
    return step(0) as Promise<T>;
  }
}
