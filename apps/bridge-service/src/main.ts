import { exitOnStartupError } from '@fabric/platform-runtime';
import { bootstrapService } from '@fabric/service-kit';
import { AppModule } from './app/app.module';
import { loadBridgeConfig, type BridgeConfig } from './app/bridge.config';

let config: BridgeConfig | undefined;
try {
  config = loadBridgeConfig();
} catch (error) {
  void exitOnStartupError('bridge-service', error);
}
if (config) {
  void bootstrapService(AppModule, {
    service: config.name,
    version: config.version ?? '1.0.0',
    title: `${config.name} (bridged)`,
    // Neither the command line nor the URL: either may carry a credential.
    description: `An existing MCP server (${config.target.kind === 'stdio' ? 'stdio' : 'Streamable HTTP'}) bridged into the fabric`,
  });
}
