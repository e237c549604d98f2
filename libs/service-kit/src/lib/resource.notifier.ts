import { Inject, Injectable } from '@nestjs/common';
import { ResourceUpdatedSchema, fabricSubjects } from '@fabric/contracts';
import { NatsClient } from '@fabric/platform-nats';
import { SERVICE_ENV, type ServiceEnv } from './kit.config';

/** Tells every gateway that a resource of this service changed, so that they notify the clients subscribed to it. */
@Injectable()
export class ResourceNotifier {
  private readonly subject: string;

  constructor(
    @Inject(NatsClient) private readonly nats: NatsClient,
    @Inject(SERVICE_ENV) env: ServiceEnv,
  ) {
    this.subject = fabricSubjects(env.FABRIC_NAMESPACE).resourceUpdated;
  }

  /** Publishes that the resource at `uri` changed (fire and forget). */
  updated(uri: string): void {
    this.nats.publishJson(this.subject, ResourceUpdatedSchema.parse({ uri }));
  }
}
