export { NatsClient, encodeJson, decodeJson, tryDecodeJson, toHeaders, headerOf } from './nats-client';
export type { NatsClientOptions, RequestOptions, MessageHandler } from './nats-client';
export { NatsUnreachableError, NoRespondersError, RequestTimeoutError } from './nats.errors';
export { NatsModule } from './nats.module';
export { KvWatchInclude } from 'nats';
export type { Msg, KV, KvEntry, Subscription } from 'nats';
export { RetainedStream } from './retained-stream';
export type { RetainedMessage } from './retained-stream';
