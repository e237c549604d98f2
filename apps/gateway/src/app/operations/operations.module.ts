import { Module } from '@nestjs/common';
import { CatalogModule } from '../catalog/catalog.module';
import { FleetModule } from '../fleet/fleet.module';
import { PolicyModule } from '../policy/policy.module';
import { RoutingModule } from '../routing/routing.module';
import { TasksModule } from '../tasks/tasks.module';
import { ArgumentValidator } from './argument.validator';
import { Operations } from './operations.service';
import { TaskOperations } from './tasks.operations';
import { ToolResultChecker } from './tool-result';

/** The era-independent operations (tools, resources, prompts, completion, lists, tasks) behind the policy pipeline. */
@Module({
  imports: [CatalogModule, FleetModule, PolicyModule, RoutingModule, TasksModule],
  providers: [ArgumentValidator, Operations, TaskOperations, ToolResultChecker],
  exports: [ArgumentValidator, Operations, TaskOperations],
})
export class OperationsModule {}
