import { randomUUID } from 'crypto';
import * as http from 'http';
import { AddressInfo } from 'net';
import { badRequest, GatewayError, errorHeaders } from '../gateway/errors';
import { readBody, sendJson } from '../gateway/node-http';
import { InvocationOutcome, InvocationRequest } from './agent-team';
import { stdoutLog, TraceLog } from './trace';

/** The header AgentCore Runtime carries the runtime session in. */
export const SESSION_HEADER = 'x-amzn-bedrock-agentcore-runtime-session-id';
/** AgentCore Runtime's session ids are 33-256 characters; callers running locally may use shorter ones. */
const SESSION_ID = /^[A-Za-z0-9][A-Za-z0-9_.:-]{0,255}$/;
const MAX_PROMPT_CHARS = 100_000;
const UNAUTHORIZED = new GatewayError(401, 'invalid_request_error', 'Missing or invalid credentials: send "Authorization: Bearer <STS token>" (npm run agents -- invoke makes one from your China credentials).', 'invalid_api_key');

export interface AgentServerOptions {
  readonly team: { invoke(request: InvocationRequest): Promise<InvocationOutcome> };
  /** @default 8080 (AgentCore Runtime's contract) */
  readonly port?: number;
  /** @default 0.0.0.0 (the runtime reaches the container from outside it) */
  readonly host?: string;
  /** Largest request body. @default 1 MB */
  readonly maxRequestBytes?: number;
  /** @default one JSON line per request on stdout */
  readonly log?: TraceLog;
  /**
   * Checks the caller's bearer token (on Fargate: StsPresignedAuthenticator); undefined is a 401, a
   * thrown GatewayError (STS unreachable) its own status. @default none: AgentCore Runtime authenticates callers
   */
  readonly authenticate?: (bearer: string) => Promise<{ caller: string } | undefined>;
}

export interface AgentServer {
  readonly url: string;
  /** Stops taking invocations (503) and resolves once those under way have answered, or after `graceMs`. */
  drain(graceMs: number): Promise<void>;
}

/**
 * AgentCore Runtime's HTTP contract: `GET /ping` and `POST /invocations` on port 8080. Bad
 * requests get 4xx with an OpenAI-style error body; a failed or overdue invocation gets 502/504
 * with the same body plus the session id and the trace so far.
 */
export async function startAgentServer(options: AgentServerOptions): Promise<AgentServer> {
  const log = options.log ?? stdoutLog;
  const maxRequestBytes = options.maxRequestBytes ?? 1024 * 1024;
  const inFlight = new Set<Promise<void>>();
  let draining = false;

  const fail = (res: http.ServerResponse, error: GatewayError, extra: Record<string, unknown> = {}, headers: Record<string, string> = {}) => sendJson(res, error.status, { ...error.toBody(), ...extra }, headers);

  async function invocation(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const started = Date.now();
    let caller: string | undefined;
    if (options.authenticate) {
      const bearer = /^Bearer\s+(\S+)$/i.exec(req.headers.authorization ?? '')?.[1];
      let identity: { caller: string } | undefined;
      try {
        identity = bearer ? await options.authenticate(bearer) : undefined;
      } catch (e) {
        if (e instanceof GatewayError) return fail(res, e, {}, { connection: 'close' });
        throw e;
      }
      // The body is not read: close the connection rather than drain an unauthenticated upload.
      if (!identity) return fail(res, UNAUTHORIZED, {}, { connection: 'close', 'www-authenticate': 'Bearer' });
      caller = identity.caller;
    }
    const raw = await readBody(req, maxRequestBytes);
    if (raw === undefined) return fail(res, new GatewayError(413, 'invalid_request_error', `The request body is over ${maxRequestBytes} bytes.`, 'request_too_large'), {}, { connection: 'close' });
    const parsed = parseInvocation(raw, req.headers[SESSION_HEADER]);
    if (parsed instanceof GatewayError) return fail(res, parsed);
    const request = { ...parsed, requestId: randomUUID() };
    const outcome = await options.team.invoke(request);
    log({ level: outcome.ok ? 'info' : 'error', msg: 'invocation', requestId: request.requestId, sessionId: request.sessionId, ...(caller && { caller }), status: outcome.ok ? 200 : outcome.status, ...(!outcome.ok && { code: outcome.code }), ms: Date.now() - started });
    if (outcome.ok) return sendJson(res, 200, { answer: outcome.answer, sessionId: outcome.sessionId, trace: outcome.trace });
    const error = new GatewayError(outcome.status, outcome.status === 504 ? 'timeout_error' : outcome.status === 429 ? 'rate_limit_error' : 'agent_error', outcome.message, outcome.code, null, outcome.status === 429 || outcome.status === 503);
    fail(res, error, { sessionId: outcome.sessionId, trace: outcome.trace }, outcome.retryAfter ? { 'retry-after': outcome.retryAfter } : errorHeaders(error));
  }

  const server = http.createServer((req, res) => {
    req.on('error', () => undefined);
    res.on('error', () => undefined);
    const path = new URL(req.url ?? '/', 'http://localhost').pathname;
    if (path === '/ping') {
      if (req.method !== 'GET') return fail(res, new GatewayError(405, 'invalid_request_error', 'Use GET /ping.', 'method_not_allowed'), {}, { allow: 'GET' });
      return sendJson(res, 200, { status: 'Healthy' });
    }
    if (path !== '/invocations') return fail(res, new GatewayError(404, 'invalid_request_error', `Unknown path ${path}: the agent serves GET /ping and POST /invocations.`, 'not_found'));
    if (req.method !== 'POST') return fail(res, new GatewayError(405, 'invalid_request_error', 'Use POST /invocations.', 'method_not_allowed'), {}, { allow: 'POST' });
    if (draining) return fail(res, new GatewayError(503, 'server_error', 'The agent is shutting down: send the request again.', 'draining'), {}, { connection: 'close' });
    const work = invocation(req, res)
      .catch((e: unknown) => {
        if ((e as Error).name === 'CallerGone') return;
        log({ level: 'error', msg: 'invocation failed', error: (e as Error).message });
        if (!res.headersSent) fail(res, new GatewayError(500, 'server_error', 'The agent failed unexpectedly; see its log.', 'internal_error'));
      })
      .finally(() => inFlight.delete(work));
    inFlight.add(work);
  });
  // A request (headers and body) must arrive within a minute; the answer may take up to the agents' deadline.
  server.requestTimeout = 60_000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 8080, options.host ?? '0.0.0.0', resolve);
  });
  const address = server.address() as AddressInfo;
  return {
    url: `http://${address.family === 'IPv6' ? `[${address.address}]` : address.address}:${address.port}`,
    async drain(graceMs) {
      draining = true;
      server.close();
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([Promise.allSettled([...inFlight]), new Promise((resolve) => (timer = setTimeout(resolve, graceMs)))]);
      clearTimeout(timer);
      server.closeAllConnections();
    },
  };
}

/** The invocation a request asks for, or the 400 that says what is wrong with it. */
export function parseInvocation(raw: Buffer, sessionHeader: string | string[] | undefined): Omit<InvocationRequest, 'requestId'> | GatewayError {
  let body: unknown;
  try {
    body = JSON.parse(raw.toString('utf8'));
  } catch (e) {
    return badRequest(`The request body is not valid JSON (${(e as Error).message}). Send {"prompt": "..."}.`, null, 'invalid_json');
  }
  if (body === null || typeof body !== 'object' || Array.isArray(body)) return badRequest('The request body must be a JSON object: {"prompt": "...", "sessionId": "..."}.', null, 'invalid_request');
  const { prompt, sessionId: bodySession } = body as Record<string, unknown>;
  if (prompt === undefined) return badRequest('Missing required parameter: prompt (the question for the agents).', 'prompt', 'missing_required_parameter');
  if (typeof prompt !== 'string' || !prompt.trim()) return badRequest('prompt must be a non-empty string.', 'prompt', 'invalid_type');
  if (prompt.length > MAX_PROMPT_CHARS) return badRequest(`prompt is ${prompt.length} characters; at most ${MAX_PROMPT_CHARS} are accepted.`, 'prompt', 'string_above_max_length');
  const header = Array.isArray(sessionHeader) ? sessionHeader[0] : sessionHeader;
  const sessionId = bodySession ?? header;
  if (sessionId !== undefined && (typeof sessionId !== 'string' || !SESSION_ID.test(sessionId))) {
    return badRequest('sessionId must be 1-256 letters, digits, "_", ".", ":" or "-", starting with a letter or digit.', bodySession !== undefined ? 'sessionId' : SESSION_HEADER, 'invalid_session_id');
  }
  return { prompt, sessionId: sessionId ?? randomUUID() };
}
