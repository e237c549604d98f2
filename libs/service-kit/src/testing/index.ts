// Test support, outside the lib's public surface: import from `@fabric/service-kit/testing` in specs only.
export { TaskQueueFixture } from './task-queue.fixture';
export type { SubmittedTask } from './task-queue.fixture';
