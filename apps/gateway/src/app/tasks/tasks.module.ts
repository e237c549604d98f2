import { Module } from '@nestjs/common';
import { TaskStore } from './task.store';

/** Where the fabric's tasks are kept (records in KV, work on the services' work queue). */
@Module({
  providers: [TaskStore],
  exports: [TaskStore],
})
export class TasksModule {}
