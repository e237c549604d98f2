import { Inject, Injectable } from '@nestjs/common';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Principal } from '@fabric/contracts';
import { HttpRejection, reject } from '../../http/http-rejection';
import { Authenticator } from '../../identity/authenticator';
import { CatalogService } from '../../catalog/catalog.service';
import type { OperationContext } from '../../operations/operation';
import { Operations } from '../../operations/operations.service';
import { RPC, rpcErrorResponse } from '../../operations/rpc.error';
import { InsufficientScopeError } from '../../policy/policy.errors';
import type { ProtocolAdapter, RequestScope } from '../protocol.adapter';
import { SERVER_INFO } from '../session-2025/sdk-server.factory';
import { CacheHints, COMPLETE, type ListMethod } from './cache-hints';
import { InputRequired } from './input-required';
import { ListenStreams } from './listen.streams';
import {
  META,
  STATELESS_VERSIONS,
  StatelessRejection,
  checkParamHeaders,
  statelessRequest,
  type StatelessRequest,
} from './stateless-request';
import { answerStateless } from './stateless.exchange';

/** What the gateway offers on the 2026-07-28 revision (`server/discover`). */
export const STATELESS_CAPABILITIES = {
  tools: { listChanged: true },
  resources: { listChanged: true, subscribe: true },
  prompts: { listChanged: true },
  logging: {},
  completions: {},
};

/** Methods of earlier revisions that 2026-07-28 removed: answered as unknown (404, -32601). */
const REMOVED = new Set([
  'initialize',
  'ping',
  'logging/setLevel',
  'resources/subscribe',
  'resources/unsubscribe',
  'notifications/initialized',
]);

type Json = Record<string, unknown>;

function isObject(value: unknown): value is Json {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function invalid(request: StatelessRequest, message: string): StatelessRejection {
  return new StatelessRejection(400, RPC.InvalidParams, `Invalid params: ${message}`, request.id);
}

/**
 * The 2026-07-28 era: every POST is a self-contained request (per-request `_meta`, no session). It checks
 * the envelope and the headers, and answers each method itself — the hot ones (tools/call, resources/read,
 * prompts/get) on the lean path — through the same operations and policy pipeline as the session era. No
 * SDK server is built for a request.
 */
@Injectable()
export class Stateless2026Adapter implements ProtocolAdapter {
  private discoverJson?: string;

  constructor(
    @Inject(Operations) private readonly operations: Operations,
    @Inject(CatalogService) private readonly catalog: CatalogService,
    @Inject(CacheHints) private readonly hints: CacheHints,
    @Inject(ListenStreams) private readonly listeners: ListenStreams,
    @Inject(Authenticator) private readonly authenticator: Authenticator,
    @Inject(InputRequired) private readonly inputRequired: InputRequired,
  ) {}

  async post(
    req: IncomingMessage,
    res: ServerResponse,
    body: unknown,
    { note, principal }: RequestScope,
  ): Promise<void> {
    let request: StatelessRequest | undefined;
    try {
      request = statelessRequest(req.headers, body);
      if (!request) {
        // A notification: nothing to answer (cancellation is closing the request's stream).
        res.writeHead(202).end();
        return;
      }
      note.method = request.method;
      if (request.traceId) note.trace = request.traceId;
      await this.dispatch(req, res, request, principal, note);
    } catch (error) {
      if (error instanceof StatelessRejection) {
        const { status, code, message, id, data } = error;
        res
          .writeHead(status, { 'Content-Type': 'application/json' })
          .end(JSON.stringify(rpcErrorResponse(id, { code, message, data })));
        return;
      }
      if (error instanceof InsufficientScopeError)
        throw this.authenticator.insufficientScope(req, error.scopes, request?.id ?? null);
      throw error;
    }
  }

  /** No GET stream in this era: server-to-client messages travel on a request's own response. */
  async stream(req: IncomingMessage, res: ServerResponse, { note }: RequestScope): Promise<void> {
    note.method = 'GET';
    req.resume();
    reject(
      res,
      new HttpRejection(405, RPC.ServerError, 'Method Not Allowed: use subscriptions/listen', { Allow: 'POST' }),
    );
  }

  /** No session to end in this era. */
  async remove(req: IncomingMessage, res: ServerResponse, { note }: RequestScope): Promise<void> {
    note.method = 'DELETE';
    req.resume();
    reject(res, new HttpRejection(405, RPC.ServerError, 'Method Not Allowed: there is no session', { Allow: 'POST' }));
  }

  private async dispatch(
    req: IncomingMessage,
    res: ServerResponse,
    request: StatelessRequest,
    principal: Principal | undefined,
    note: RequestScope['note'],
  ): Promise<void> {
    const { params } = request;
    const plain: OperationContext = principal ? { principal } : {};
    switch (request.method) {
      case 'tools/call': {
        const name = params['name'];
        const args = params['arguments'];
        if (typeof name !== 'string') throw invalid(request, 'name must be a string');
        if (args !== undefined && !isObject(args)) throw invalid(request, 'arguments must be an object');
        note.target = name;
        const tool = this.catalog.snapshot.tool(name);
        if (tool) checkParamHeaders(req.headers, tool.descriptor.inputSchema, args, request.id);
        return this.answerOrResume(res, request, principal, COMPLETE, (context) =>
          this.operations.callTool({ kind: 'tools/call', name, arguments: args, requestId: request.id }, context),
        );
      }
      case 'resources/read': {
        const uri = params['uri'];
        if (typeof uri !== 'string') throw invalid(request, 'uri must be a string');
        note.target = uri;
        return this.answerOrResume(res, request, principal, this.hints.read(uri), (context) =>
          this.operations.readResource({ kind: 'resources/read', uri }, context),
        );
      }
      case 'prompts/get': {
        const name = params['name'];
        const args = params['arguments'];
        if (typeof name !== 'string') throw invalid(request, 'name must be a string');
        if (args !== undefined && !(isObject(args) && Object.values(args).every((v) => typeof v === 'string')))
          throw invalid(request, 'arguments must map names to strings');
        note.target = name;
        return this.answerOrResume(res, request, principal, COMPLETE, (context) =>
          this.operations.getPrompt(
            { kind: 'prompts/get', name, arguments: args as Record<string, string> | undefined },
            context,
          ),
        );
      }
      case 'completion/complete': {
        const ref = params['ref'];
        const argument = params['argument'];
        const context = params['context'];
        if (
          !isObject(ref) ||
          !isObject(argument) ||
          typeof argument['name'] !== 'string' ||
          typeof argument['value'] !== 'string'
        )
          throw invalid(request, 'completion/complete needs ref and argument { name, value }');
        const target =
          ref['type'] === 'ref/prompt' && typeof ref['name'] === 'string'
            ? { type: 'ref/prompt' as const, name: ref['name'] }
            : ref['type'] === 'ref/resource' && typeof ref['uri'] === 'string'
              ? { type: 'ref/resource' as const, uri: ref['uri'] }
              : undefined;
        if (!target) throw invalid(request, 'ref must be a ref/prompt with a name or a ref/resource with a uri');
        const known = isObject(context) && isObject(context['arguments']) ? context['arguments'] : undefined;
        return answerStateless({
          res,
          request,
          principal,
          fields: COMPLETE,
          work: (operationContext) =>
            this.operations.complete(
              {
                kind: 'completion/complete',
                ref: target,
                argument: { name: argument['name'] as string, value: argument['value'] as string },
                ...(known ? { context: known as Record<string, string> } : {}),
              },
              operationContext,
            ),
        });
      }
      case 'tools/list':
      case 'prompts/list':
      case 'resources/list':
      case 'resources/templates/list': {
        const cursor = params['cursor'];
        if (cursor !== undefined && typeof cursor !== 'string') throw invalid(request, 'cursor must be a string');
        const method = request.method as ListMethod;
        return answerStateless({
          res,
          request,
          principal,
          fields: this.hints.list(method),
          work: () => this.list(method, cursor, plain),
        });
      }
      case 'server/discover':
        res.writeHead(200, { 'Content-Type': 'application/json' }).end(this.discover(request.id));
        return;
      case 'subscriptions/listen':
        return this.listeners.listen(req, res, request, principal);
      default: {
        const message = REMOVED.has(request.method)
          ? `Method not found: ${request.method} is not part of protocol revision ${STATELESS_VERSIONS[0]}`
          : `Method not found: ${request.method}`;
        throw new StatelessRejection(404, RPC.MethodNotFound, message, request.id);
      }
    }
  }

  /**
   * Answers an operation that may ask its client: a retry carrying `requestState` resumes the call it names
   * (on whichever replica runs it); anything else starts the work.
   */
  private answerOrResume(
    res: ServerResponse,
    request: StatelessRequest,
    principal: Principal | undefined,
    fields: string,
    work: (context: OperationContext) => Promise<object>,
  ): Promise<void> {
    if (request.params['requestState'] !== undefined)
      return this.inputRequired.resume({ res, request, principal, fields });
    return answerStateless({ res, request, principal, fields, inputRequired: this.inputRequired, work });
  }

  private list(method: ListMethod, cursor: string | undefined, context: OperationContext): Promise<object> {
    switch (method) {
      case 'tools/list':
        return this.operations.listTools({ kind: method, cursor }, context);
      case 'prompts/list':
        return this.operations.listPrompts({ kind: method, cursor }, context);
      case 'resources/list':
        return this.operations.listResources({ kind: method, cursor }, context);
      case 'resources/templates/list':
        return this.operations.listResourceTemplates({ kind: method, cursor }, context);
    }
  }

  /** The discover answer: the same for every caller, so built once. */
  private discover(id: string | number): string {
    this.discoverJson ??= JSON.stringify({
      supportedVersions: STATELESS_VERSIONS,
      capabilities: STATELESS_CAPABILITIES,
      _meta: { [META.serverInfo]: SERVER_INFO },
    });
    const members = `${this.hints.discover()},${this.discoverJson.slice(1)}`;
    return `{"jsonrpc":"2.0","id":${JSON.stringify(id)},"result":{${members}}`;
  }
}
