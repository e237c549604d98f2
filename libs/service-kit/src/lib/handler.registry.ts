import { Inject, Injectable, type OnModuleInit } from '@nestjs/common';
import { DiscoveryService } from '@nestjs/core';
import { HandlerTable } from './handler.table';
import type { ServiceIdentity } from './manifest.builder';

export const SERVICE_IDENTITY = Symbol('SERVICE_IDENTITY');

/** Finds every `@McpTool`/`@McpResource`/… method among the app's providers once the app is initialised. */
@Injectable()
export class HandlerRegistry implements OnModuleInit {
  private built?: HandlerTable;

  constructor(
    @Inject(DiscoveryService) private readonly discovery: DiscoveryService,
    @Inject(SERVICE_IDENTITY) readonly identity: ServiceIdentity,
  ) {}

  onModuleInit(): void {
    const instances = this.discovery
      .getProviders()
      .map((wrapper) => wrapper.instance as unknown)
      .filter((instance): instance is object => typeof instance === 'object' && instance !== null);
    this.built = new HandlerTable(this.identity, [...new Set(instances)]);
  }

  get table(): HandlerTable {
    if (!this.built) throw new Error('HandlerRegistry used before the application was initialised');
    return this.built;
  }
}
