import 'reflect-metadata';
import { NestFactory } from '@nestjs/core';
import { Logger } from 'nestjs-pino';
import { loadConfig } from '@fabric/platform-config';
import { exitGracefullyOnSignals, exitOnStartupError, startWithWorkers } from '@fabric/platform-runtime';
import { AppModule } from './app/app.module';
import { authEnabled, gatewayEnvSchema } from './app/gateway.config';

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
  // Open (no AUTH_ISSUER, no API_KEYS_FILE) is for local development: only this machine can reach it.
  const open = !authEnabled(env);
  const host = env.HOST ?? (open ? '127.0.0.1' : undefined);
  if (open) {
    app
      .get(Logger)
      .warn(
        `no AUTH_ISSUER or API_KEYS_FILE: /mcp is open to anyone who can reach ${host} (local development only; HOST changes the interface)`,
      );
  }
  await (host === undefined ? app.listen(env.PORT) : app.listen(env.PORT, host));
  app
    .get(Logger)
    .log(`MCP endpoint ready at http://${host && host !== '0.0.0.0' ? host : '127.0.0.1'}:${env.PORT}/mcp`);
}

startWithWorkers('gateway', main).catch((error: unknown) => exitOnStartupError('gateway', error));
