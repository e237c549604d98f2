import 'reflect-metadata';
import { NestFactory } from '@nestjs/core';
import { Logger } from 'nestjs-pino';
import { loadConfig } from '@fabric/platform-config';
import { exitGracefullyOnSignals, exitOnStartupError, startWithWorkers } from '@fabric/platform-runtime';
import { AppModule } from './app/app.module';
import { gatewayEnvSchema } from './app/gateway.config';

async function main(): Promise<void> {
  const env = loadConfig(gatewayEnvSchema);
  // The MCP endpoint reads its own body (size limit, one parse), so Nest's body parser is off.
  const app = await NestFactory.create(AppModule.forRoot(env), {
    bufferLogs: true,
    bodyParser: false,
    forceCloseConnections: true,
    abortOnError: false,
  });
  app.useLogger(app.get(Logger));
  exitGracefullyOnSignals(app);
  await app.listen(env.PORT);
  app.get(Logger).log(`MCP endpoint ready at http://127.0.0.1:${env.PORT}/mcp`);
}

startWithWorkers('gateway', main).catch((error: unknown) => exitOnStartupError('gateway', error));
