import { Module } from '@nestjs/common';
import { loadBridgeConfig } from './bridge.config';
import { BRIDGE_CONFIG, BridgeHandlers } from './bridge.handlers';

/** The bridge: one upstream MCP server (`BRIDGE_*`), served as the fabric service `BRIDGE_NAME`. */
@Module({
  providers: [{ provide: BRIDGE_CONFIG, useFactory: () => loadBridgeConfig() }, BridgeHandlers],
})
export class AppModule {}
