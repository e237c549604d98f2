import { Module } from '@nestjs/common';
import { CatalogService } from './catalog.service';
import { ResourceResolver } from './resource-resolver';

@Module({ providers: [CatalogService, ResourceResolver], exports: [CatalogService, ResourceResolver] })
export class CatalogModule {}
