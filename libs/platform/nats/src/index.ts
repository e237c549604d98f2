export { NatsClient, encodeJson, decodeJson, tryDecodeJson, toHeaders, headerOf } from './nats-client';
export type {
  NatsClientOptions,
  KvBucketOptions,
  RequestOptions,
  RequestManyOptions,
  MessageHandler,
} from './nats-client';
export {
  JetStreamReplicasError,
  NatsClosedError,
  NatsUnreachableError,
  NoRespondersError,
  RequestTimeoutError,
  RevisionConflictError,
  StreamFullError,
} from './nats.errors';
export { NatsModule } from './nats.module';
export type { KvBucket, KvEntry, KvWatch, KvWatchOptions } from './kv-bucket';
export type { RetainedStream, RetainedMessage } from './retained-stream';
export type { Msg, Subscription } from 'nats';
export { DurableStream, DurableConsumer } from './durable-stream';
export type {
  DurableStreamOptions,
  DurablePublishOptions,
  DurableConsumerOptions,
  DurableMessage,
} from './durable-stream';
