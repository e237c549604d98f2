import { Inject, Injectable } from '@nestjs/common';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { detectEra, type Era } from './era';
import type { ProtocolAdapter, RequestScope } from './protocol.adapter';
import { Session2025Adapter } from './session-2025/session-2025.adapter';
import { Stateless2026Adapter } from './stateless-2026/stateless-2026.adapter';

/**
 * Hands each request to the adapter of its protocol era, decided before any session check: session traffic
 * to the 2025-11-25 adapter, stateless requests (2026-07-28) to theirs.
 */
@Injectable()
export class ProtocolRouter {
  private readonly adapters: Partial<Record<Era, ProtocolAdapter>>;

  constructor(
    @Inject(Session2025Adapter) private readonly sessions: Session2025Adapter,
    @Inject(Stateless2026Adapter) stateless: Stateless2026Adapter,
  ) {
    this.adapters = { 'session-2025': sessions, 'stateless-2026': stateless };
  }

  private adapterFor(req: IncomingMessage, body?: unknown): ProtocolAdapter {
    return this.adapters[detectEra(req.headers, body)] ?? this.sessions;
  }

  post(req: IncomingMessage, res: ServerResponse, body: unknown, scope: RequestScope): Promise<void> {
    return this.adapterFor(req, body).post(req, res, body, scope);
  }

  stream(req: IncomingMessage, res: ServerResponse, scope: RequestScope): Promise<void> {
    return this.adapterFor(req).stream(req, res, scope);
  }

  remove(req: IncomingMessage, res: ServerResponse, scope: RequestScope): Promise<void> {
    return this.adapterFor(req).remove(req, res, scope);
  }
}
