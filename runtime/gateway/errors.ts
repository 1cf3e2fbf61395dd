/** OpenAI-style error: `{ "error": { "message", "type", "param", "code" } }` with an HTTP status. */
export class GatewayError extends Error {
  /** Headers the error answer carries besides its body: an upstream's retry-after, passed on to the caller. @default none */
  headers: Readonly<Record<string, string>> = {};

  constructor(
    public readonly status: number,
    public readonly type: string,
    message: string,
    public readonly code: string | null = null,
    public readonly param: string | null = null,
    /** Safe to try the upstream again (before the first byte reached the caller). */
    public readonly retryable = false,
  ) {
    super(message);
    this.name = 'GatewayError';
  }

  toBody(): { error: { message: string; type: string; param: string | null; code: string | null } } {
    return { error: { message: this.message, type: this.type, param: this.param, code: this.code } };
  }
}

/**
 * 5xx answers a retry cannot fix (the route or credential is misconfigured, the upstream account is
 * out of quota, the request outgrew the host's deadline): OpenAI's SDKs retry every 5xx unless told not to.
 */
const FINAL_SERVER_ERRORS: ReadonlySet<string> = new Set(['credential_not_linked', 'upstream_access_denied', 'upstream_not_found', 'upstream_redirect', 'upstream_quota_exhausted', 'deadline_exceeded']);

/**
 * The headers of an error answer: the error's own (an upstream's retry-after, a quota's x-ratelimit-*);
 * a throttled (429) or unavailable (503) answer that a later attempt can get past tells the caller
 * when to try again (1 s unless the upstream said; OpenAI's SDKs wait that long), and a 5xx no retry
 * can fix says so (`x-should-retry: false`). A 4xx needs neither: clients do not retry it.
 */
export function errorHeaders(error: GatewayError): Record<string, string> {
  const headers: Record<string, string> = {};
  if (error.retryable && (error.status === 429 || error.status === 503)) headers['retry-after'] = '1';
  if (error.status >= 500 && FINAL_SERVER_ERRORS.has(error.code ?? '')) headers['x-should-retry'] = 'false';
  return { ...headers, ...error.headers };
}

/** A 400 the caller can act on; `code` names the problem for programs (OpenAI clients read it). */
export const badRequest = (message: string, param: string | null = null, code = 'invalid_request') =>
  new GatewayError(400, 'invalid_request_error', message, code, param);

/** Errors that mean the global credential itself was refused (unknown, deleted, expired or mis-signed key). */
const CREDENTIAL_REJECTIONS: readonly string[] = ['UnrecognizedClientException', 'InvalidSignatureException', 'ExpiredTokenException', 'InvalidClientTokenId'];

/** Socket-level failures that mean the connection broke (not that the upstream was slow). */
const CONNECTION_ERROR_CODES: readonly string[] = ['ECONNRESET', 'ECONNREFUSED', 'EPIPE', 'EAI_AGAIN', 'ENOTFOUND', 'ERR_STREAM_PREMATURE_CLOSE', 'UND_ERR_SOCKET', 'UND_ERR_CLOSED'];
const CONNECTION_ERROR_MESSAGE = /socket hang up|ECONNRESET|EPIPE|premature close|other side closed/i;

/** The codes of failures that came from an upstream (Bedrock or an OpenAI-compatible service): what upstream alarms count. */
const UPSTREAM_FAILURE_CODES: ReadonlySet<string> = new Set([
  'upstream_error',
  'upstream_connection',
  'upstream_timeout',
  'upstream_unavailable',
  'upstream_access_denied',
  'upstream_stream_idle',
  'upstream_truncated',
  'upstream_bad_response',
  'upstream_not_found',
  'upstream_quota_exhausted',
  'upstream_redirect',
  'model_error',
]);

/** A 5xx that an upstream caused, as opposed to bad input (4xx) or the gateway's own failure. */
export function isUpstreamFailure(error: GatewayError): boolean {
  return error.status >= 500 && UPSTREAM_FAILURE_CODES.has(error.code ?? '');
}

/** A broken connection, also when the SDK renamed it (it reports ECONNRESET/EPIPE as TimeoutError) or wrapped it (fetch's `cause`). */
function isConnectionFailure(e: { code?: string; message?: string; cause?: unknown }): boolean {
  for (let err: typeof e | undefined = e, depth = 0; err && depth < 3; err = err.cause as typeof e | undefined, depth++) {
    if (CONNECTION_ERROR_CODES.includes(err.code ?? '') || CONNECTION_ERROR_MESSAGE.test(err.message ?? '')) return true;
  }
  // undici reports a body cut off mid-way as a bare TypeError("terminated").
  return e.message === 'terminated';
}

/** Bedrock and network failures, mapped to what an OpenAI client understands. */
export function fromUpstream(error: unknown): GatewayError {
  if (error instanceof GatewayError) return error;
  const e = (error ?? {}) as { name?: string; message?: string; code?: string; cause?: unknown; $fault?: string; $metadata?: { httpStatusCode?: number } };
  const name = e.name ?? '';
  const message = e.message ?? String(error);
  if (name === 'AccessDeniedException' || CREDENTIAL_REJECTIONS.includes(name)) {
    return new GatewayError(
      403,
      'permission_error',
      `Bedrock refused the gateway's global credential (${name}): ${message}. Check that the gateway user's key in Secrets Manager is current (npm run link-credentials -- --rotate), that the model is allowed in its policy, and that the call leaves China from a NAT IP the policy allows.`,
      'upstream_access_denied',
    );
  }
  // Before the names: the SDK renames ECONNRESET and EPIPE to TimeoutError, but a reset is not a slow answer.
  if (isConnectionFailure(e)) {
    return new GatewayError(502, 'api_error', `Connection to the upstream failed: ${message}`, 'upstream_connection', null, true);
  }
  switch (name) {
    case 'ThrottlingException':
    case 'TooManyRequestsException':
      return new GatewayError(429, 'rate_limit_error', `Bedrock throttled the request: ${message}`, 'rate_limit_exceeded', null, true);
    case 'ValidationException':
      return new GatewayError(400, 'invalid_request_error', `Bedrock rejected the request: ${message}`, 'bedrock_validation');
    case 'ResourceNotFoundException':
      return new GatewayError(404, 'invalid_request_error', `Bedrock does not know the model: ${message}`, 'model_not_found');
    case 'ModelTimeoutException':
    case 'TimeoutError':
    case 'RequestTimeout':
      return new GatewayError(504, 'timeout_error', `Bedrock did not answer in time: ${message}`, 'upstream_timeout', null, name !== 'ModelTimeoutException');
    case 'ServiceUnavailableException':
    case 'ModelNotReadyException':
      return new GatewayError(503, 'api_error', `Bedrock is unavailable: ${message}`, 'upstream_unavailable', null, true);
    case 'InternalServerException':
    case 'ModelStreamErrorException':
      return new GatewayError(502, 'api_error', `Bedrock failed: ${message}`, 'upstream_error', null, name === 'InternalServerException');
    case 'ModelErrorException':
      return new GatewayError(502, 'api_error', `The model failed: ${message}`, 'model_error');
    default:
      break;
  }
  const status = e.$metadata?.httpStatusCode;
  if (status !== undefined && status >= 500) return new GatewayError(502, 'api_error', `Bedrock failed (${status}): ${message}`, 'upstream_error', null, true);
  if (status === 429) return new GatewayError(429, 'rate_limit_error', `Bedrock throttled the request (${name}): ${message}`, 'rate_limit_exceeded', null, true);
  if (status !== undefined && status >= 400) return new GatewayError(400, 'invalid_request_error', `Bedrock rejected the request (${name}): ${message}`, 'bedrock_rejected');
  // An SDK service exception carries $fault/$metadata; anything else was thrown inside the gateway.
  if (e.$fault !== undefined || e.$metadata !== undefined) return new GatewayError(502, 'api_error', `Unexpected upstream failure: ${message}`, 'upstream_error');
  return new GatewayError(500, 'api_error', `The gateway failed: ${message}`, 'internal_error');
}

/** The credential itself was rejected: reload it from Secrets Manager (it may have been rotated) and try once more. */
export function isCredentialRejection(error: unknown): boolean {
  const name = (error as { name?: string }).name ?? '';
  return CREDENTIAL_REJECTIONS.includes(name);
}
