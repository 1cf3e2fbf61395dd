/**
 * Errors the API platform itself answers before the gateway runs (API Gateway's "gateway responses":
 * a missing or bad SigV4 signature, stage throttling, an oversized body, WAF blocks...), in OpenAI's
 * error shape with a hint on what to do. Defined once: the REST API renders them as gateway response
 * templates, and a local runner can answer the same bodies for the same rejections.
 */

/** The API Gateway response types the kit answers itself (the others fall back to DEFAULT_4XX / DEFAULT_5XX). */
export const PLATFORM_ERROR_TYPES = [
  'MISSING_AUTHENTICATION_TOKEN',
  'INVALID_SIGNATURE',
  'EXPIRED_TOKEN',
  'ACCESS_DENIED',
  'UNAUTHORIZED',
  'INVALID_API_KEY',
  'THROTTLED',
  'QUOTA_EXCEEDED',
  'REQUEST_TOO_LARGE',
  'UNSUPPORTED_MEDIA_TYPE',
  'BAD_REQUEST_BODY',
  'BAD_REQUEST_PARAMETERS',
  'RESOURCE_NOT_FOUND',
  'WAF_FILTERED',
  'INTEGRATION_TIMEOUT',
  'INTEGRATION_FAILURE',
  'DEFAULT_4XX',
  'DEFAULT_5XX',
] as const;
export type PlatformErrorType = (typeof PLATFORM_ERROR_TYPES)[number];

/** What the hints need to know about the deployed API. */
export interface PlatformErrorContext {
  /** The China region the API is in (the SigV4 scope). */
  readonly region: string;
  readonly authorization: 'IAM' | 'API_KEY';
  /** Stage throttling: steady requests per second and burst. */
  readonly rateLimit: number;
  readonly burstLimit: number;
  /** Seconds API Gateway waits for the gateway Lambda. */
  readonly integrationTimeoutSeconds: number;
  /** The largest body the gateway Lambda takes (API Gateway itself takes 10 MB). */
  readonly maxBodyBytes: number;
  /** WAF requests per 5 minutes per source IP. */
  readonly wafRequestsPer5MinPerIp: number;
  /** The in-VPC streaming door is deployed (gateway.streamingDoor.enabled). */
  readonly streamingDoor: boolean;
}

export interface PlatformError {
  /** HTTP status; undefined keeps the status API Gateway chose (DEFAULT_4XX / DEFAULT_5XX cover several). */
  readonly status?: number;
  readonly type: string;
  readonly code: string;
  readonly message: string;
  /** Extra response headers (e.g. Retry-After), as literal values. */
  readonly headers?: Readonly<Record<string, string>>;
}

/** OpenAI's error body, with what the platform itself said kept apart so `error` stays OpenAI's shape. */
export interface PlatformErrorBody {
  readonly error: { readonly message: string; readonly type: string; readonly param: string | null; readonly code: string };
  readonly platform: { readonly message: string; readonly request_id: string };
}

/**
 * Every method and path the REST API serves (lib/constructs/openai-rest-api.ts creates exactly these;
 * test/runtime/platform-errors.test.ts holds the two together), named in the hints of the rejections
 * API Gateway answers before the gateway runs.
 */
export const GATEWAY_ROUTES = [
  'POST /v1/chat/completions',
  'GET /v1/models',
  'GET /v1/models/{id}',
  'POST /v1/embeddings',
  'POST /v1/rerank',
  'POST /rerank',
  'POST /v2/rerank',
  'POST /model/{modelId}/converse',
  'POST /model/{modelId}/converse-stream',
] as const;

const ROUTES = `${GATEWAY_ROUTES.slice(0, -1).join(', ')} and ${GATEWAY_ROUTES[GATEWAY_ROUTES.length - 1]}`;

function howToAuthenticate(ctx: PlatformErrorContext): string {
  if (ctx.authorization === 'API_KEY') return 'Send the API key of your usage plan in the x-api-key header.';
  return (
    `Sign every request with SigV4 for service execute-api in ${ctx.region} using China IAM credentials, e.g. ` +
    `curl --aws-sigv4 "aws:amz:${ctx.region}:execute-api" --user "<access key id>:<secret access key>" -H "x-amz-security-token: <session token>", ` +
    'or the OpenAI SDK with the kit\'s sigv4Fetch (runtime/client/sigv4-fetch.ts). An OpenAI-style "Authorization: Bearer" key is not accepted here.'
  );
}

function streamingDoorHint(ctx: PlatformErrorContext): string {
  return ctx.streamingDoor
    ? 'Callers inside the VPC can use the in-VPC streaming door (StreamingBaseUrl output), which streams tokens as they come and allows long generations.'
    : 'Callers inside the VPC that need long generations or real streaming can use the in-VPC streaming door (gateway.streamingDoor.enabled).';
}

/** Every platform error, with its hint for this API. */
export function platformErrors(ctx: PlatformErrorContext): Record<PlatformErrorType, PlatformError> {
  const auth = howToAuthenticate(ctx);
  const maxMb = Math.floor(ctx.maxBodyBytes / (1024 * 1024));
  return {
    MISSING_AUTHENTICATION_TOKEN: {
      status: 403,
      type: 'authentication_error',
      code: 'missing_authentication',
      message: `The request is not signed, or names a route this API does not have (routes: ${ROUTES}). ${auth}`,
    },
    INVALID_SIGNATURE: {
      status: 403,
      type: 'authentication_error',
      code: 'invalid_signature',
      message: `The SigV4 signature does not match the request: sign the exact method, path, query, host and body, for service execute-api in ${ctx.region}, and do not change the request after signing (platform.message shows what API Gateway expected). ${auth}`,
    },
    EXPIRED_TOKEN: {
      status: 403,
      type: 'authentication_error',
      code: 'expired_credentials',
      message: 'The signing credentials or the signature have expired: refresh the session token (aws sts get-session-token / your role session) and check that the caller\'s clock is within 5 minutes of the real time.',
    },
    ACCESS_DENIED: {
      status: 403,
      type: 'permission_error',
      code: 'access_denied',
      message: `The caller is authenticated but not allowed to invoke this API: its IAM policy needs execute-api:Invoke on arn:aws-cn:execute-api:${ctx.region}:<account>:<api-id>/prod/*; a PRIVATE API admits only calls through the VPC's execute-api endpoint.`,
    },
    UNAUTHORIZED: {
      status: 401,
      type: 'authentication_error',
      code: 'unauthorized',
      message: `The request's credentials were refused. ${auth}`,
    },
    INVALID_API_KEY: {
      status: 403,
      type: 'authentication_error',
      code: 'invalid_api_key',
      message: ctx.authorization === 'API_KEY' ? 'The x-api-key header is missing or names no key of this API\'s usage plan.' : `This API does not use API keys. ${auth}`,
    },
    THROTTLED: {
      status: 429,
      type: 'rate_limit_error',
      code: 'rate_limit_exceeded',
      message: `Too many requests: the API allows ${ctx.rateLimit} requests per second with bursts of ${ctx.burstLimit} (gateway.rateLimit, gateway.burstLimit). Retry with exponential backoff.`,
      // The stage's token bucket refills every second.
      headers: { 'Retry-After': '1' },
    },
    QUOTA_EXCEEDED: {
      status: 429,
      type: 'rate_limit_error',
      code: 'quota_exceeded',
      message: 'The usage plan\'s request quota for this API key is used up; it resets at the start of the next quota period.',
    },
    REQUEST_TOO_LARGE: {
      status: 413,
      type: 'invalid_request_error',
      code: 'request_too_large',
      message: `The request body is over API Gateway's 10 MB limit; the gateway itself takes at most ${maxMb} MB. Send smaller images (data URLs) or fewer messages.`,
    },
    UNSUPPORTED_MEDIA_TYPE: {
      status: 415,
      type: 'invalid_request_error',
      code: 'unsupported_media_type',
      message: 'Send the body as JSON with "content-type: application/json" (converse-stream answers with "accept: application/vnd.amazon.eventstream").',
    },
    BAD_REQUEST_BODY: {
      status: 400,
      type: 'invalid_request_error',
      code: 'invalid_body',
      message: 'The body is not what the route expects: /v1/chat/completions needs a JSON object with "model" (string) and "messages" (a non-empty array); converse routes need "messages" (an array).',
    },
    BAD_REQUEST_PARAMETERS: {
      status: 400,
      type: 'invalid_request_error',
      code: 'invalid_parameters',
      message: `A required path or query parameter is missing or invalid (routes: ${ROUTES}).`,
    },
    RESOURCE_NOT_FOUND: {
      status: 404,
      type: 'invalid_request_error',
      code: 'not_found',
      message: `No such route (routes: ${ROUTES}); base_url for OpenAI SDKs ends in /prod/v1.`,
    },
    WAF_FILTERED: {
      status: 403,
      type: 'permission_error',
      code: 'blocked_by_firewall',
      message: `The web application firewall blocked the request: more than ${ctx.wafRequestsPer5MinPerIp} requests in 5 minutes from one IP (gateway.wafRequestsPer5MinPerIp), or a managed rule matched its headers, path or query (prompt bodies are only counted, never blocked).`,
    },
    INTEGRATION_TIMEOUT: {
      status: 504,
      type: 'timeout_error',
      code: 'gateway_timeout',
      message: `The model did not finish within the API's ${ctx.integrationTimeoutSeconds} s (gateway.integrationTimeoutSeconds; raise the account's integration timeout quota before raising it). Ask for fewer tokens (max_tokens) or retry. ${streamingDoorHint(ctx)}`,
    },
    INTEGRATION_FAILURE: {
      status: 502,
      type: 'api_error',
      code: 'gateway_failure',
      message: 'The gateway function failed before answering (an error or its memory or time limit); retry, and see the gateway\'s logs for the request id.',
    },
    DEFAULT_4XX: {
      type: 'invalid_request_error',
      code: 'platform_rejected',
      message: 'API Gateway rejected the request before the gateway saw it (see platform.message).',
    },
    DEFAULT_5XX: {
      type: 'api_error',
      code: 'platform_error',
      message: 'API Gateway failed to serve the request (see platform.message); retry with backoff.',
    },
  };
}

/** The body a platform error answers, e.g. for a local runner that rejects the same requests. */
export function platformErrorBody(error: PlatformError, platformMessage: string, requestId: string): PlatformErrorBody {
  return {
    error: { message: error.message, type: error.type, param: null, code: error.code },
    platform: { message: platformMessage, request_id: requestId },
  };
}

/**
 * API Gateway's template variables. A gateway response template is not VTL: API Gateway substitutes
 * variables only. `messageString` is already a quoted JSON string; `requestId` is a bare UUID.
 */
export const GATEWAY_RESPONSE_VARIABLES = { message: '$context.error.messageString', requestId: '$context.requestId' } as const;

const MESSAGE_SLOT = 'PLATFORM_MESSAGE_SLOT';

/** The same body as an API Gateway response template (application/json). */
export function gatewayResponseTemplate(error: PlatformError): string {
  const template = JSON.stringify(platformErrorBody(error, MESSAGE_SLOT, GATEWAY_RESPONSE_VARIABLES.requestId)).replace(
    JSON.stringify(MESSAGE_SLOT),
    GATEWAY_RESPONSE_VARIABLES.message,
  );
  // API Gateway would substitute any other "$..." in a hint (an unknown variable becomes empty).
  const stray = template.replace(GATEWAY_RESPONSE_VARIABLES.message, '').replace(GATEWAY_RESPONSE_VARIABLES.requestId, '');
  if (stray.includes('$')) throw new Error(`gatewayResponseTemplate: the ${error.code} hint contains "$", which API Gateway would substitute`);
  return template;
}
