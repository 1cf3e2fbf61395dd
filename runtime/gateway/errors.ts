/** OpenAI-style error: `{ "error": { "message", "type", "param", "code" } }` with an HTTP status. */
export class GatewayError extends Error {
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

export const badRequest = (message: string, param: string | null = null, code: string | null = null) =>
  new GatewayError(400, 'invalid_request_error', message, code, param);

/** Errors that mean the global credential itself was refused (unknown, deleted, expired or mis-signed key). */
const CREDENTIAL_REJECTIONS: readonly string[] = ['UnrecognizedClientException', 'InvalidSignatureException', 'ExpiredTokenException', 'InvalidClientTokenId'];

/** Bedrock and network failures, mapped to what an OpenAI client understands. */
export function fromUpstream(error: unknown): GatewayError {
  if (error instanceof GatewayError) return error;
  const e = error as { name?: string; message?: string; code?: string; $metadata?: { httpStatusCode?: number } };
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
  if (['ECONNRESET', 'ECONNREFUSED', 'EPIPE', 'ETIMEDOUT', 'EAI_AGAIN'].includes(e.code ?? '') || /socket hang up|ECONNRESET/.test(message)) {
    return new GatewayError(502, 'api_error', `Connection to Bedrock failed: ${message}`, 'upstream_connection', null, true);
  }
  return new GatewayError(502, 'api_error', `Unexpected upstream failure: ${message}`, 'upstream_error');
}

/** The credential itself was rejected: reload it from Secrets Manager (it may have been rotated) and try once more. */
export function isCredentialRejection(error: unknown): boolean {
  const name = (error as { name?: string }).name ?? '';
  return CREDENTIAL_REJECTIONS.includes(name);
}
