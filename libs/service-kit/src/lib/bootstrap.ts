import 'reflect-metadata';
import { NestFactory } from '@nestjs/core';
import type { INestApplication, Type } from '@nestjs/common';
import { Logger } from 'nestjs-pino';
import { loadConfig } from '@fabric/platform-config';
import { exitGracefullyOnSignals, exitOnStartupError, startWithWorkers } from '@fabric/platform-runtime';
import { FabricServer } from './fabric.server';
import { serviceEnvSchema, type ServiceEnv } from './kit.config';
import type { ServiceIdentity } from './manifest.builder';
import { ServiceKitModule } from './service-kit.module';

/**
 * Starts a domain service: its handlers on NATS, and `/healthz`, `/readyz`, `/metrics` on `PORT`; with
 * `WORKERS` > 1 in that many worker processes, and then resolves to undefined in their primary.
 */
export async function bootstrapService(
  app: Type<unknown>,
  identity: ServiceIdentity,
  env: NodeJS.ProcessEnv = process.env,
): Promise<INestApplication | undefined> {
  try {
    return await startWithWorkers(`${identity.service}-service`, () => startService(app, identity, env), env);
  } catch (error) {
    return exitOnStartupError(`${identity.service}-service`, error);
  }
}

async function startService(
  app: Type<unknown>,
  identity: ServiceIdentity,
  env: NodeJS.ProcessEnv,
): Promise<INestApplication> {
  const config: ServiceEnv = loadConfig(serviceEnvSchema, env);
  const nest = await NestFactory.create(ServiceKitModule.forRoot(app, identity, config), {
    bufferLogs: true,
    // Start-up errors reach exitOnStartupError (one clear line) instead of Nest's own abort.
    abortOnError: false,
    forceCloseConnections: true,
  });
  nest.useLogger(nest.get(Logger));
  exitGracefullyOnSignals(nest);
  nest.connectMicroservice({ strategy: nest.get(FabricServer) }, { inheritAppConfig: true });
  await nest.init();
  await nest.startAllMicroservices();
  await nest.listen(config.PORT);
  return nest;
}
