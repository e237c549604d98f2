import { Module } from '@nestjs/common';
import { PolicyModule } from '../policy/policy.module';
import { Authenticator } from './authenticator';
import { ProtectedResourceController } from './protected-resource.controller';

/** Who calls: bearer tokens and API keys on `/mcp`, and the RFC 9728 metadata that tells clients how to get one. */
@Module({
  imports: [PolicyModule],
  controllers: [ProtectedResourceController],
  providers: [Authenticator],
  exports: [Authenticator],
})
export class IdentityModule {}
