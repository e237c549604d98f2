/** NATS could not be reached when the process started. */
export class NatsUnreachableError extends Error {
  constructor(
    readonly url: string,
    options?: { cause?: unknown },
  ) {
    super(
      `Cannot reach NATS at ${url}. Start a NATS server with JetStream (for example \`nats-server -js\`) ` +
        `or point NATS_URL at one.`,
      options,
    );
    this.name = 'NatsUnreachableError';
  }
}

/** A request found no subscriber on its subject: nobody is there to answer. */
export class NoRespondersError extends Error {
  constructor(
    readonly subject: string,
    options?: { cause?: unknown },
  ) {
    super(`No responders on ${subject}`, options);
    this.name = 'NoRespondersError';
  }
}

/** A request got no reply in time. */
export class RequestTimeoutError extends Error {
  constructor(
    readonly subject: string,
    readonly timeoutMs: number,
    options?: { cause?: unknown },
  ) {
    super(`No reply on ${subject} within ${timeoutMs} ms`, options);
    this.name = 'RequestTimeoutError';
  }
}

/** The connection was closed (or is draining) while the operation waited: it will not complete. */
export class NatsClosedError extends Error {
  constructor(options?: { cause?: unknown }) {
    super('NATS connection closed', options);
    this.name = 'NatsClosedError';
  }
}

/** A compare-and-set write of a KV key was refused: the key changed since `expectedRevision` (0: it exists). */
export class RevisionConflictError extends Error {
  constructor(
    readonly bucket: string,
    readonly key: string,
    readonly expectedRevision: number,
    options?: { cause?: unknown },
  ) {
    super(
      expectedRevision === 0
        ? `${bucket}/${key} exists already`
        : `${bucket}/${key} changed since revision ${expectedRevision}`,
      options,
    );
    this.name = 'RevisionConflictError';
  }
}

/** A durable stream refused a message: it holds its limit (messages or bytes) and keeps what it has. */
export class StreamFullError extends Error {
  constructor(
    readonly stream: string,
    reason: string,
    options?: { cause?: unknown },
  ) {
    super(`JetStream stream ${stream} refused a message: ${reason}`, options);
    this.name = 'StreamFullError';
  }
}

/** A JetStream stream (or the stream of a KV bucket) does not exist, e.g. deleted while in use. */
export class StreamNotFoundError extends Error {
  constructor(
    readonly stream: string,
    options?: { cause?: unknown },
  ) {
    super(`JetStream stream ${stream} does not exist`, options);
    this.name = 'StreamNotFoundError';
  }
}

/** A stream cannot have the replica count `JETSTREAM_REPLICAS` asks for on the NATS servers it reaches. */
export class JetStreamReplicasError extends Error {
  constructor(
    readonly stream: string,
    readonly replicas: number,
    reason: string,
    options?: { cause?: unknown },
  ) {
    super(
      `JETSTREAM_REPLICAS=${replicas}, but stream ${stream} cannot have ${replicas} replicas: ${reason}. ` +
        `Set JETSTREAM_REPLICAS to at most the number of JetStream servers in the NATS cluster (1 for a single server).`,
      options,
    );
    this.name = 'JetStreamReplicasError';
  }
}
