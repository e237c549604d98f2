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
