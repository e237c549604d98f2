import { Module } from '@nestjs/common';
import { CatalogModule } from '../catalog/catalog.module';
import { IdentityModule } from '../identity/identity.module';
import { OperationsModule } from '../operations/operations.module';
import { PolicyModule } from '../policy/policy.module';
import { RoutingModule } from '../routing/routing.module';
import { TasksModule } from '../tasks/tasks.module';
import { ProtocolRouter } from './protocol.router';
import { ClientRequests } from './session-2025/client-requests';
import { EventLog } from './session-2025/event-log';
import { SdkServerFactory } from './session-2025/sdk-server.factory';
import { Session2025Adapter } from './session-2025/session-2025.adapter';
import { SessionRegistry } from './session-2025/session.registry';
import { SessionStore } from './session-2025/session.store';
import { TaskNotifications } from './session-2025/task-notifications';
import { CacheHints } from './stateless-2026/cache-hints';
import { InputRequired } from './stateless-2026/input-required';
import { ListenStreams } from './stateless-2026/listen.streams';
import { Stateless2026Adapter } from './stateless-2026/stateless-2026.adapter';

/** The protocol eras on the MCP endpoint; the only module that knows the MCP SDK's server side. */
@Module({
  imports: [CatalogModule, IdentityModule, OperationsModule, PolicyModule, RoutingModule, TasksModule],
  providers: [
    ProtocolRouter,
    Session2025Adapter,
    SessionRegistry,
    SessionStore,
    SdkServerFactory,
    ClientRequests,
    EventLog,
    TaskNotifications,
    Stateless2026Adapter,
    CacheHints,
    ListenStreams,
    InputRequired,
  ],
  exports: [ProtocolRouter, SessionStore],
})
export class ProtocolModule {}
