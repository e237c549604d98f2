/**
 * The caller is authenticated but lacks scopes the operation needs: the protocol layer answers it with
 * HTTP 403 and the `insufficient_scope` step-up challenge, before the service sees anything.
 */
export class InsufficientScopeError extends Error {
  constructor(
    /** Every scope the operation needs (the client asks its authorization server for these). */
    readonly scopes: string[],
    options?: { cause?: unknown },
  ) {
    super(`insufficient scope: needs ${scopes.join(' ')}`, options);
    this.name = 'InsufficientScopeError';
  }
}
