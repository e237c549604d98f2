import 'reflect-metadata';
import { NestFactory } from '@nestjs/core';
import { Logger } from 'nestjs-pino';
import { ConfigError, loadConfig } from '@fabric/platform-config';
import { NatsUnreachableError } from '@fabric/platform-nats';
import { AppModule } from './app/app.module';
import { gatewayEnvSchema } from './app/gateway.config';

async function main(): Promise<void> {
  const env = loadConfig(gatewayEnvSchema);
  // The MCP endpoint reads its own body (size limit, one parse), so Nest's body parser is off.
  const app = await NestFactory.create(AppModule.forRoot(env), { bufferLogs: true, bodyParser: false, forceCloseConnections: true });
  app.useLogger(app.get(Logger));
  app.enableShutdownHooks();
  await app.listen(env.PORT);
  app.get(Logger).log(`MCP endpoint ready at http://127.0.0.1:${env.PORT}/mcp`);
}

main().catch((error: unknown) => {
  if (error instanceof ConfigError || error instanceof NatsUnreachableError) {
    process.stderr.write(`gateway: ${error.message}\n`);
  } else {
    process.stderr.write(`gateway failed to start: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
  }
  process.exit(1);
});
