import { Module } from '@nestjs/common';
import { CatalogModule } from '../catalog/catalog.module';
import { CallEventBus } from './call-events';
import { LostCallDetector } from './lost-call.detector';
import { ServiceClient } from './service.client';

/** Sends calls to services: retries, bulkheads, circuit breakers, lost-call detection and the calls' back channel. */
@Module({
  imports: [CatalogModule],
  providers: [CallEventBus, LostCallDetector, ServiceClient],
  exports: [CallEventBus, ServiceClient],
})
export class RoutingModule {}
