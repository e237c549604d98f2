export { NatsClient, encodeJson, decodeJson, toHeaders, headerOf } from './nats-client';
export type { NatsClientOptions, RequestOptions, MessageHandler } from './nats-client';
export { NatsUnreachableError, NoRespondersError, RequestTimeoutError } from './nats.errors';
export { NatsModule } from './nats.module';
export type { Msg, KV, KvEntry, Subscription } from 'nats';
