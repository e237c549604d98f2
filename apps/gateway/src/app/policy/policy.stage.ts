import type { OperationRequest } from '../operations/operation';

/**
 * One stage of the policy pipeline (authenticate, authorize, rate limit, cache, audit): it sees every
 * operation once, and either answers or refuses it itself or calls `next` to go on.
 */
export interface PolicyStage {
  readonly name: string;
  handle(request: OperationRequest, next: () => Promise<unknown>): Promise<unknown>;
}

/** The ordered stages (a multi-provider token: each stage's module adds itself in pipeline order). */
export const POLICY_STAGES = Symbol('POLICY_STAGES');
