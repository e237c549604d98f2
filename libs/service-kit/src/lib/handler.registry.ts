import { Inject, Injectable, Logger, type OnModuleDestroy, type OnModuleInit } from '@nestjs/common';
import { DiscoveryService } from '@nestjs/core';
import { DynamicHandlers } from './dynamic.handlers';
import { HandlerTable } from './handler.table';
import type { ServiceIdentity } from './manifest.builder';

export const SERVICE_IDENTITY = Symbol('SERVICE_IDENTITY');

/**
 * Finds every `@McpTool`/`@McpResource`/… method among the app's providers once the app is initialised, and
 * the handlers of its `DynamicHandlers` providers; rebuilds the table when one of those changes.
 */
@Injectable()
export class HandlerRegistry implements OnModuleInit, OnModuleDestroy {
  private readonly log = new Logger('HandlerRegistry');
  private built?: HandlerTable;
  private instances: object[] = [];
  private dynamic: DynamicHandlers[] = [];
  private readonly unsubscribe: (() => void)[] = [];
  private readonly listeners = new Set<(table: HandlerTable) => void>();

  constructor(
    @Inject(DiscoveryService) private readonly discovery: DiscoveryService,
    @Inject(SERVICE_IDENTITY) readonly identity: ServiceIdentity,
  ) {}

  onModuleInit(): void {
    this.instances = [
      ...new Set(
        this.discovery
          .getProviders()
          .map((wrapper) => wrapper.instance as unknown)
          .filter((instance): instance is object => typeof instance === 'object' && instance !== null),
      ),
    ];
    this.dynamic = this.instances.filter(
      (instance): instance is DynamicHandlers => instance instanceof DynamicHandlers,
    );
    this.built = this.build();
    for (const provider of this.dynamic) this.unsubscribe.push(provider.onChange(() => this.rebuild()));
  }

  onModuleDestroy(): void {
    for (const unsubscribe of this.unsubscribe.splice(0)) unsubscribe();
  }

  get table(): HandlerTable {
    if (!this.built) throw new Error('HandlerRegistry used before the application was initialised');
    return this.built;
  }

  /** Runs `listener` with each new table after a `DynamicHandlers` change (the server announces it). */
  onChange(listener: (table: HandlerTable) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  private build(): HandlerTable {
    return new HandlerTable(
      this.identity,
      this.instances,
      this.dynamic.map((provider) => provider.declarations()),
    );
  }

  private rebuild(): void {
    let table: HandlerTable;
    try {
      table = this.build();
    } catch (error) {
      // A run-time declaration the kit refuses (a duplicate name, a bad cache policy) keeps the table that works.
      this.log.error({ err: error }, 'dynamic handlers changed to something invalid; keeping the previous ones');
      return;
    }
    if (table.manifest.revision === this.built?.manifest.revision) {
      this.built = table;
      return;
    }
    this.built = table;
    for (const listener of this.listeners) listener(table);
  }
}
