import { Controller, Get, Header, Inject, NotFoundException, Req } from '@nestjs/common';
import type { IncomingMessage } from 'node:http';
import { GATEWAY_ENV, authEnabled, type GatewayEnv } from '../gateway.config';
import { ScopeRules } from '../policy/scope.rules';
import { protectedResourceMetadata, resourceOf, type ProtectedResourceMetadata } from './protected-resource';

/**
 * RFC 9728 protected resource metadata, at the well-known path and at its form for the `/mcp` resource
 * (the one the 401 challenge names). Served only when callers must authenticate.
 */
@Controller('.well-known/oauth-protected-resource')
export class ProtectedResourceController {
  constructor(
    @Inject(GATEWAY_ENV) private readonly env: GatewayEnv,
    @Inject(ScopeRules) private readonly scopes: ScopeRules,
  ) {}

  @Get()
  @Header('Access-Control-Allow-Origin', '*')
  @Header('Cache-Control', 'max-age=300')
  root(@Req() req: IncomingMessage): ProtectedResourceMetadata {
    return this.metadata(req);
  }

  @Get('mcp')
  @Header('Access-Control-Allow-Origin', '*')
  @Header('Cache-Control', 'max-age=300')
  mcp(@Req() req: IncomingMessage): ProtectedResourceMetadata {
    return this.metadata(req);
  }

  private metadata(req: IncomingMessage): ProtectedResourceMetadata {
    if (!authEnabled(this.env)) throw new NotFoundException();
    return protectedResourceMetadata(
      resourceOf(this.env.AUTH_AUDIENCE, req),
      this.env.AUTH_ISSUER,
      this.scopes.supported(),
    );
  }
}
