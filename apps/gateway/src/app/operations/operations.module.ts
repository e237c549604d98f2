import { Module } from '@nestjs/common';
import { CatalogModule } from '../catalog/catalog.module';
import { PolicyModule } from '../policy/policy.module';
import { RoutingModule } from '../routing/routing.module';
import { ArgumentValidator } from './argument.validator';
import { Operations } from './operations.service';
import { ToolResultChecker } from './tool-result';

/** The era-independent operations (tools, resources, prompts, completion, lists) behind the policy pipeline. */
@Module({
  imports: [CatalogModule, PolicyModule, RoutingModule],
  providers: [ArgumentValidator, Operations, ToolResultChecker],
  exports: [ArgumentValidator, Operations],
})
export class OperationsModule {}
