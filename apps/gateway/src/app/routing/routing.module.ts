import { Module } from '@nestjs/common';
import { CatalogModule } from '../catalog/catalog.module';
import { LostCallDetector } from './lost-call.detector';
import { ServiceClient } from './service.client';

/** Sends calls to services: retries, bulkheads, circuit breakers and lost-call detection. */
@Module({ imports: [CatalogModule], providers: [LostCallDetector, ServiceClient], exports: [ServiceClient] })
export class RoutingModule {}
