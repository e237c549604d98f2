import type { AuthInfo } from '@modelcontextprotocol/sdk/server/auth/types.js';
import type { Principal } from '@fabric/contracts';

/** Where the principal rides in the SDK's `AuthInfo`, which is how a request's identity reaches its handler. */
const PRINCIPAL = 'fabric.principal';

/** The SDK's auth info for a principal: the principal itself, never the token (the field stays empty). */
export function authInfoOf(principal: Principal): AuthInfo {
  return {
    token: '',
    clientId: principal.clientId ?? '',
    scopes: principal.scopes,
    extra: { [PRINCIPAL]: principal },
  };
}

/** The principal of an SDK request handler's `extra` (undefined when the gateway runs open). */
export function principalOfAuthInfo(authInfo: AuthInfo | undefined): Principal | undefined {
  return authInfo?.extra?.[PRINCIPAL] as Principal | undefined;
}
