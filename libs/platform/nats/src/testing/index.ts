// Test support, outside the lib's public surface: import from `@fabric/platform-nats/testing` in specs only.
export { NatsServerCluster, NatsServerProcess, eventually, eventuallyValue, freePort } from './nats-server';
export type { JetStreamStatus } from './nats-server';
export { TaskQueueFixture } from './task-queue.fixture';
export type { SubmittedTask, SubmitOptions } from './task-queue.fixture';
