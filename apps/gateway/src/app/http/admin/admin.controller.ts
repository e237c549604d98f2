import { Controller, Get, Inject, Logger, Param, Req, Res } from '@nestjs/common';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { GATEWAY_ENV, type GatewayEnv } from '../../gateway.config';
import { Authenticator } from '../../identity/authenticator';
import { RPC } from '../../operations/rpc.error';
import { checkOriginAndHost } from '../http-checks';
import { HttpRejection } from '../http-rejection';
import { SSE_HEADERS } from '../sse';
import { loadAdminAssets, type AdminAsset } from './admin.assets';
import { AdminFeed } from './admin.feed';

/** The scope a credential needs for the admin page's data when callers authenticate. */
export const ADMIN_SCOPE = 'fabric:admin';

/** Same origin only, nothing inline, never framed. */
const PAGE_HEADERS = {
  'Content-Security-Policy': "default-src 'self'; base-uri 'none'; frame-ancestors 'none'; form-action 'none'",
  'X-Content-Type-Options': 'nosniff',
  'Referrer-Policy': 'no-referrer',
  'X-Frame-Options': 'DENY',
};

/**
 * The live admin page (`ADMIN_ENABLED`): the page and its files at `/admin` (they hold no data, so a browser
 * can load them before it has a credential), and `/admin/events`, the SSE stream of fleet snapshots, which
 * needs a credential with `fabric:admin` when callers authenticate. Origin and Host are checked as on `/mcp`.
 */
@Controller('admin')
export class AdminController {
  private readonly log = new Logger('AdminPage');
  private readonly assets?: Map<string, AdminAsset>;

  constructor(
    @Inject(GATEWAY_ENV) private readonly env: GatewayEnv,
    @Inject(Authenticator) private readonly authenticator: Authenticator,
    @Inject(AdminFeed) private readonly feed: AdminFeed,
  ) {
    if (env.ADMIN_ENABLED) this.assets = loadAdminAssets({ authRequired: authenticator.enabled });
  }

  @Get()
  page(@Req() req: IncomingMessage, @Res() res: ServerResponse): void {
    this.serve(req, res, 'index.html');
  }

  @Get('events')
  async events(@Req() req: IncomingMessage, @Res() res: ServerResponse): Promise<void> {
    if (!this.env.ADMIN_ENABLED) return notFound(res);
    try {
      checkOriginAndHost(req.headers, this.env.ALLOWED_ORIGINS, this.env.ALLOWED_HOSTS);
      const principal = await this.authenticator.authenticate(req);
      if (principal && !principal.scopes.includes(ADMIN_SCOPE)) {
        throw this.authenticator.insufficientScope(req, [ADMIN_SCOPE]);
      }
    } catch (error) {
      if (error instanceof HttpRejection) return refuse(res, error);
      this.log.error({ err: error }, 'admin request failed');
      return refuse(res, new HttpRejection(500, RPC.InternalError, 'Internal error'));
    }
    res.writeHead(200, { ...PAGE_HEADERS, ...SSE_HEADERS, 'Cache-Control': 'no-store' });
    res.flushHeaders();
    await this.feed.add(res);
  }

  @Get(':file')
  file(@Param('file') file: string, @Req() req: IncomingMessage, @Res() res: ServerResponse): void {
    this.serve(req, res, file);
  }

  private serve(req: IncomingMessage, res: ServerResponse, name: string): void {
    const asset = this.assets?.get(name);
    if (!asset) return notFound(res);
    try {
      checkOriginAndHost(req.headers, this.env.ALLOWED_ORIGINS, this.env.ALLOWED_HOSTS);
    } catch (error) {
      if (error instanceof HttpRejection) return refuse(res, error);
      throw error;
    }
    res
      .writeHead(200, {
        ...PAGE_HEADERS,
        'Content-Type': asset.contentType,
        'Content-Length': String(asset.body.length),
        'Cache-Control': 'no-cache',
      })
      .end(asset.body);
  }
}

function notFound(res: ServerResponse): void {
  res.writeHead(404, { 'Content-Type': 'text/plain; charset=utf-8' }).end('Not Found');
}

/** A refusal as plain JSON, with the rejection's headers (the `WWW-Authenticate` challenge of `/mcp`). */
function refuse(res: ServerResponse, rejection: HttpRejection): void {
  res
    .writeHead(rejection.status, { ...rejection.headers, 'Content-Type': 'application/json' })
    .end(JSON.stringify({ error: rejection.message }));
}
