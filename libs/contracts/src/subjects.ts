/** Version of the wire contract; part of every subject so v1 and v2 services can share one NATS. */
export const CONTRACT_VERSION = 'v1';

/** The operations a service answers, one request subject each. */
export const OPERATIONS = ['tools.call', 'resources.read', 'prompts.get', 'completion.complete'] as const;
export type Operation = (typeof OPERATIONS)[number];

/** Service names become subject tokens and tool-name prefixes, so they are kept to a safe alphabet. */
export const SERVICE_NAME_PATTERN = /^[a-z][a-z0-9-]{0,62}$/;

/**
 * Every subject the fabric uses, under one namespace (default `fabric`), so that several fabrics
 * (or test runs) can share one NATS without hearing each other.
 */
export function fabricSubjects(namespace = 'fabric') {
  const root = `${namespace}.${CONTRACT_VERSION}`;
  return {
    /** Requests for one operation of one service; replicas subscribe in the queue group `queueGroup(service)`. */
    request: (service: string, operation: Operation) => `${root}.svc.${service}.${operation}`,
    /** Wildcard a replica subscribes to for all operations of its service. */
    requestWildcard: (service: string) => `${root}.svc.${service}.*.*`,
    /** Cancellation of a running call, heard by every replica of the service (no queue group). */
    cancel: (service: string) => `${root}.svc.${service}.cancel`,
    /**
     * Asks one instance which of the given calls it is still running. Only that instance subscribes, so
     * "no responders" means it is gone and the calls it held are lost.
     */
    probe: (service: string, instanceId: string) => `${root}.instance.${service}.${subjectToken(instanceId)}.probe`,
    /**
     * Events and client requests of one call, addressed to the gateway replica holding the client's request
     * (the subject travels in `CallRequest.events`). One wildcard subscription per replica hears them all.
     */
    callEvents: (replica: string, callId: string) => `${root}.gateway.${subjectToken(replica)}.call.${callId}`,
    callEventsWildcard: (replica: string) => `${root}.gateway.${subjectToken(replica)}.call.*`,
    /**
     * What a call that answered its client with an input-required result (2026-07-28) does next — its next
     * requests to the client, or its outcome — for the replica serving the client's retry, wherever it is.
     */
    inputRequired: (callId: string) => `${root}.gateway.mrtr.${subjectToken(callId)}`,
    /** A client's answer to a server-to-client request, forwarded by the replica it reached to the one that asked. */
    clientResponses: (replica: string) => `${root}.gateway.${subjectToken(replica)}.responses`,
    /** A client's `notifications/cancelled`, heard by every gateway replica (the one running the request stops it). */
    clientCancelled: `${root}.gateway.cancelled`,
    /** Presence of the gateway replicas (start, heartbeat with tool stats, leaving), heard by every replica. */
    gatewayPresence: `${root}.gateway.presence`,
    /**
     * The SSE events of one stream of one session (`stream`: random per POST stream, `get` for the session's
     * GET stream), kept in JetStream for a while so that a client can resume on any replica.
     */
    sseEvents: (sessionId: string, stream: string) => `${root}.sse.${subjectToken(sessionId)}.${subjectToken(stream)}`,
    sseEventsAll: `${root}.sse.>`,
    /**
     * A message for the GET stream of one session (a task's notifications), heard by every gateway replica:
     * the one holding the stream writes it.
     */
    sessionNotify: `${root}.gateway.notify`,
    /** A service reporting a changed resource; every gateway replica tells its subscribed sessions. */
    resourceUpdated: `${root}.resources.updated`,
    /** Invalidations of one cache space (a service), heard by every process holding entries of it. */
    cacheInvalidate: (space: string) => `${root}.cache.invalidate.${subjectToken(space)}`,
    cacheInvalidateAll: `${root}.cache.invalidate.*`,
    /** Presence of the processes holding an in-process cache (start, heartbeat, leaving). */
    cacheMembers: `${root}.cache.members`,
    /** Announcements (start and heartbeat) of service instances. */
    announce: `${root}.discovery.announce`,
    /** A service instance leaving (draining or stopping). */
    goodbye: `${root}.discovery.goodbye`,
    /** A gateway asking every live instance to announce itself now (request-many). */
    hello: `${root}.discovery.hello`,
    /**
     * The JetStream work queue of one service's tasks (stream `taskStorage(namespace).stream`); one durable
     * consumer per service, shared by its replicas, takes each task once at a time.
     */
    taskWork: (service: string) => `${root}.task.${service}.work`,
    taskWorkAll: `${root}.task.*.work`,
    /**
     * Events of one task (its progress and log messages, its status changes) for the client that created
     * it; `recordKey` is the task's key in the task bucket. Every gateway hears them; the one holding the
     * client's GET stream delivers them, in order, whichever replica accepted the task.
     */
    taskEvents: (recordKey: string) => `${root}.taskevents.${recordKey}`,
    taskEventsAll: `${root}.taskevents.>`,
    /** Audit events of the gateways (JetStream stream `auditStorage(namespace).stream`). */
    auditEvents: `${root}.audit.events`,
    /** Queue group shared by every replica of one service. */
    queueGroup: (service: string) => `${namespace}.${service}`,
  } as const;
}

export type FabricSubjects = ReturnType<typeof fabricSubjects>;

/** Makes any string (an instance id from a host name…) usable as one subject token. */
function subjectToken(value: string): string {
  return value.replace(/[^A-Za-z0-9_-]/g, '_');
}

/** Recovers the operation from a request subject, or undefined when it is not one. */
export function operationOfSubject(subject: string): Operation | undefined {
  const parts = subject.split('.');
  const operation = `${parts[parts.length - 2]}.${parts[parts.length - 1]}`;
  return (OPERATIONS as readonly string[]).includes(operation) ? (operation as Operation) : undefined;
}

/** NATS header names used next to the JSON envelope. */
export const HEADERS = {
  traceparent: 'traceparent',
  tracestate: 'tracestate',
  requestId: 'x-request-id',
} as const;
