import type { OperationRequest } from '../operations/operation';
import { InsufficientScopeError } from './policy.errors';
import type { PolicyStage } from './policy.stage';
import type { ScopeRules } from './scope.rules';

/**
 * Authorization by scopes, first in the pipeline (nothing after it, the cache included, sees a refused
 * operation): an operation whose tool, resource or prompt requires a scope the principal lacks is refused
 * with `InsufficientScopeError`, naming every scope it needs. Lists pass (they are filtered per principal).
 */
export class AuthorizeStage implements PolicyStage {
  readonly name = 'authorize';

  constructor(private readonly rules: ScopeRules) {}

  handle(request: OperationRequest, next: () => Promise<unknown>): Promise<unknown> {
    const required = this.rules.required(request.operation);
    if (required.length === 0) return next();
    // Registered only when callers authenticate: an operation without a principal holds no scope.
    const held = new Set(request.context.principal?.scopes ?? []);
    if (required.every((scope) => held.has(scope))) return next();
    return Promise.reject(new InsufficientScopeError([...required]));
  }
}
