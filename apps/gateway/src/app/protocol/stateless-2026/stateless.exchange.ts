import type { ServerResponse } from 'node:http';
import type { Principal } from '@fabric/contracts';
import { SSE_HEADERS } from '../../http/sse';
import type { OperationContext } from '../../operations/operation';
import { RPC, RpcError, rpcErrorResponse } from '../../operations/rpc.error';
import { InsufficientScopeError } from '../../policy/policy.errors';
import { successJsonWith } from '../response-json';
import { LazyAbort } from '../session-2025/direct.exchange';
import { RPC_2026, type StatelessRequest } from './stateless-request';
import type { ErrorOutcome, InputRequired, PendingAsk } from './input-required';
import { MissingClientCapabilityError, StatelessChannel, type Notify } from './stateless.channel';

/** An error answer: its HTTP status and JSON text. */
interface ErrorAnswer {
  status: number;
  json: string;
}

/**
 * The JSON-RPC error of a failed request on the 2026-07-28 revision, with the HTTP status the revision
 * gives it: method not found 404, a capability the client lacks 400, a missing resource -32602 with its URI
 * (SEP-2164). Anything that is not a typed error is an internal error, without its message.
 */
export function errorOutcome(error: unknown): ErrorOutcome {
  if (error instanceof MissingClientCapabilityError) {
    return {
      status: 400,
      error: {
        code: RPC_2026.MissingRequiredClientCapability,
        message: error.message,
        data: { requiredCapabilities: { [error.capability]: {} } },
      },
    };
  }
  const rpc = error instanceof RpcError ? error : new RpcError(RPC.InternalError, 'Internal error');
  const code = rpc.code === RPC.ResourceNotFound ? RPC.InvalidParams : rpc.code;
  const status = code === RPC.MethodNotFound ? 404 : 200;
  return { status, error: { code, message: rpc.message, ...(rpc.data === undefined ? {} : { data: rpc.data }) } };
}

/** `errorOutcome` as the answer to request `id`. */
export function errorAnswer(id: string | number, error: unknown): ErrorAnswer {
  const { status, error: body } = errorOutcome(error);
  return { status, json: JSON.stringify(rpcErrorResponse(id, body)) };
}

export interface StatelessExchange {
  res: ServerResponse;
  request: StatelessRequest;
  principal?: Principal;
  /** Members the result gains ahead of its own (`resultType`, caching hints), pre-serialized. */
  fields: string;
  work: (context: OperationContext) => Promise<object>;
  /** Present for the methods whose calls may ask the client (tools/call, prompts/get, resources/read). */
  inputRequired?: InputRequired;
}

type Outcome = { result: object } | { error: unknown };

/**
 * Answers one request of the stateless era on the lean path: plain JSON when the work emits nothing but its
 * result, SSE from its first notification (progress, logs). The client closing the response — a JSON answer
 * or a stream — cancels the request (there is no session to resume it in). An `InsufficientScopeError`
 * before anything was written is thrown back, for the caller's HTTP 403.
 *
 * When the call asks the client (sampling, elicitation) the answer is an input-required result instead, and
 * the call goes on without this response: what it does next is published for the replica serving the
 * client's retry (see `InputRequired`).
 */
export async function answerStateless({
  res,
  request,
  principal,
  fields,
  work,
  inputRequired,
}: StatelessExchange): Promise<void> {
  if (res.destroyed || res.socket?.destroyed) return;
  const abort = new LazyAbort();
  let streaming = false;
  /** Set once the client was answered with an input-required result: the call now waits for the retry. */
  let handedOver = false;
  const onClose = () => {
    if (!res.writableFinished) abort.abort(new Error('the client closed the stream'));
  };
  res.once('close', onClose);
  const notify: Notify = async (message) => {
    // After an input-required answer the call's notifications have no stream to go to.
    if (abort.aborted || res.destroyed || handedOver) return;
    if (!streaming) {
      streaming = true;
      res.writeHead(200, SSE_HEADERS);
    }
    res.write(`event: message\ndata: ${JSON.stringify(message)}\n\n`);
  };
  let asking: ((input: { callId: string; asks: PendingAsk[] }) => void) | undefined;
  const asked = new Promise<{ callId: string; asks: PendingAsk[] }>((resolve) => (asking = resolve));
  const input = inputRequired
    ? (callId: string, asks: PendingAsk[]) => {
        if (handedOver) inputRequired.publish(callId, { type: 'input', asks });
        else asking?.({ callId, asks });
      }
    : undefined;
  let channel: StatelessChannel | undefined;
  // The signal and the channel are made only when something uses them (a call sent to a service).
  const context: OperationContext = {
    principal,
    traceId: request.traceId,
    ...(typeof request.trace?.traceparent === 'string' ? { traceparent: request.trace.traceparent } : {}),
    ...(typeof request.trace?.tracestate === 'string' ? { tracestate: request.trace.tracestate } : {}),
    get signal() {
      return abort.signal;
    },
    get channel() {
      channel ??= new StatelessChannel(
        request.logLevel,
        request.progressToken,
        request.capabilities,
        notify,
        (reason) => abort.abort(reason),
        input,
      );
      return channel;
    },
  };
  const outcome: Promise<Outcome> = work(context).then(
    (result) => ({ result }),
    (error: unknown) => ({ error }),
  );
  const first = inputRequired ? await Promise.race([outcome, asked]) : await outcome;
  res.off('close', onClose);
  if ('asks' in first && inputRequired) {
    handedOver = true;
    const json = inputRequired.answerJson(request, principal, first.callId, first.asks);
    const callId = first.callId;
    void outcome.then((settled) => {
      const refusal = channel?.refusal;
      inputRequired.publish(
        callId,
        'result' in settled && !refusal
          ? { type: 'result', result: settled.result as Record<string, unknown> }
          : { type: 'error', ...errorOutcome(refusal ?? ('error' in settled ? settled.error : undefined)) },
      );
    });
    if (res.destroyed || res.writableEnded) return;
    if (streaming) res.end(`event: message\ndata: ${json}\n\n`);
    else res.writeHead(200, { 'Content-Type': 'application/json' }).end(json);
    return;
  }
  let status = 200;
  let json: string;
  if ('result' in first) {
    if (channel?.refusal) ({ status, json } = errorAnswer(request.id, channel.refusal));
    else json = successJsonWith(request.id, first.result, fields);
  } else {
    const error = 'error' in first ? first.error : undefined;
    if (error instanceof InsufficientScopeError && !streaming) throw error;
    ({ status, json } = errorAnswer(request.id, channel?.refusal ?? error));
  }
  if (res.destroyed || res.writableEnded) return;
  if (streaming) res.end(`event: message\ndata: ${json}\n\n`);
  else res.writeHead(status, { 'Content-Type': 'application/json' }).end(json);
}
