import { Module } from '@nestjs/common';
import { RoutingModule } from '../routing/routing.module';
import { GatewayPresenceService } from './gateway-presence.service';
import { ToolStats } from './tool-stats';

/** What the fleet looks like: this replica's tool stats, and every gateway replica's presence with theirs. */
@Module({
  imports: [RoutingModule],
  providers: [ToolStats, GatewayPresenceService],
  exports: [ToolStats, GatewayPresenceService],
})
export class FleetModule {}
