import { Module } from '@nestjs/common';
import { ServiceClient } from './service.client';

@Module({ providers: [ServiceClient], exports: [ServiceClient] })
export class RoutingModule {}
