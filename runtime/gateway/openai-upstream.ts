import { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { CachedSecret } from './cached-secret';
import { GatewayError, parseRetryAfter } from './errors';
import { privateCaFetch } from './private-ca-fetch';
import { GatewayRuntimeConfig } from './runtime-config';

export type UpstreamConfig = GatewayRuntimeConfig['upstreams'][number];

/** Bytes of a non-2xx answer the gateway reads for its message: an upstream cannot make it buffer more. */
const MAX_ERROR_BODY_BYTES = 16 * 1024;

/** The start of a response body, at most `limit` bytes; the rest is not read (the connection is let go). */
async function readBounded(res: Response, limit = MAX_ERROR_BODY_BYTES): Promise<string> {
  if (!res.body) return '';
  const reader = res.body.getReader();
  const chunks: Uint8Array[] = [];
  let size = 0;
  try {
    while (size < limit) {
      const { done, value } = await reader.read();
      if (done) break;
      chunks.push(value);
      size += value.length;
    }
  } catch {
    // A body cut short still says what arrived of it.
  } finally {
    void reader.cancel().catch(() => undefined);
  }
  return Buffer.concat(chunks).subarray(0, limit).toString('utf8');
}

/**
 * An upstream's answer that is not 2xx, as the gateway reports and retries it. The status says
 * whose fault it is: the caller's request (4xx, kept as sent, with the upstream's code and param),
 * or the route (the gateway's key, quota, address or model name; the upstream's failures): 5xx,
 * retryable (so the next route in the chain is tried) where another attempt can succeed.
 */
function upstreamError(upstream: UpstreamConfig, status: number, body: string, location?: string | null, retryAfter?: string | null): GatewayError {
  const error = (() => {
    try {
      const parsed = JSON.parse(body) as { error?: { message?: unknown; code?: unknown; param?: unknown } | string; message?: unknown };
      return typeof parsed.error === 'object' && parsed.error !== null ? parsed.error : { message: parsed.error ?? parsed.message };
    } catch {
      return {};
    }
  })();
  const message = (typeof error.message === 'string' ? error.message : body).slice(0, 300);
  const where = `${upstream.kind} upstream "${upstream.name}"`;
  if (status === 429) return Object.assign(new GatewayError(429, 'rate_limit_error', `${where} is rate limiting: ${message}`, 'rate_limit_exceeded', null, true), { retryAfterSeconds: parseRetryAfter(retryAfter) });
  if (status === 401 || status === 403) return new GatewayError(502, 'api_error', `${where} refused the gateway's key (${status}); check its secret.`, 'upstream_access_denied');
  if (status === 402) return new GatewayError(502, 'api_error', `${where} refused the gateway's account (402, out of balance or quota): ${message}`, 'upstream_quota_exhausted', null, true);
  if (status === 404) return new GatewayError(502, 'api_error', `${where} does not serve this model or path (404); check the route's modelId and baseUrl: ${message}`, 'upstream_not_found');
  if (status === 408 || status === 504) return new GatewayError(504, 'timeout_error', `${where} timed out (${status}): ${message}`, 'upstream_timeout', null, true);
  if (status >= 300 && status < 400) return new GatewayError(502, 'api_error', `${where} redirects (${status}${location ? ` to ${location}` : ''}); set its baseUrl to the address that answers.`, 'upstream_redirect');
  if (status >= 400 && status < 500) {
    const code = typeof error.code === 'string' && error.code !== '' ? error.code : 'upstream_rejected';
    const param = typeof error.param === 'string' ? error.param : null;
    return new GatewayError(status, 'invalid_request_error', `${where} rejected the request (${status}): ${message}`, code, param);
  }
  return new GatewayError(502, 'api_error', `${where} failed (${status}): ${message}`, 'upstream_error', null, true);
}

/** Where an upstream's API key comes from when it is not Secrets Manager (a developer's machine: environment or file). */
export interface UpstreamKeySource {
  get(): Promise<string>;
}

/** An OpenAI-compatible service the gateway forwards to: a vLLM load balancer in the VPC or a domestic provider. */
export class OpenAiUpstream {
  private readonly key?: UpstreamKeySource;
  /** fetch, or one that also trusts the upstream's private CA. */
  private readonly send: typeof fetch;

  constructor(
    readonly config: UpstreamConfig,
    secrets?: SecretsManagerClient,
    localKey?: UpstreamKeySource,
  ) {
    this.send = config.caCertificates?.length ? privateCaFetch(config.caCertificates) : (input, init) => fetch(input, init);
    this.key = localKey;
    const id = config.apiKeySecretId;
    if (localKey || !id || !secrets) return;
    this.key = new CachedSecret(secrets, id, `the key of ${config.kind} upstream "${config.name}"`, (text) => {
      let parsed: unknown;
      try {
        parsed = JSON.parse(text);
      } catch {
        return text; // a plain string secret (the vLLM API keys)
      }
      const apiKey = (parsed as { apiKey?: unknown } | null)?.apiKey;
      if (typeof apiKey === 'string') return apiKey;
      // The kit creates provider secrets with a placeholder: nothing to send until the operator puts the key.
      throw new GatewayError(
        503,
        'api_error',
        `The key of ${config.kind} upstream "${config.name}" is not set: aws secretsmanager put-secret-value --secret-id ${id} --secret-string '{"apiKey":"<key>"}'`,
        'upstream_key_not_set',
      );
    });
  }

  /** POST /chat/completions; the Response body is left unread so a stream can be passed on as it comes. */
  chatCompletions(payload: object, signal?: AbortSignal): Promise<Response> {
    return this.post('/chat/completions', payload, signal);
  }

  /**
   * POST to a path under the base URL (`/embeddings`, `/rerank`) with the upstream's key; a non-2xx
   * answer becomes the GatewayError it stands for. The body is left unread.
   */
  async post(path: string, payload: object, signal?: AbortSignal): Promise<Response> {
    const key = await this.key?.get();
    const timeout = AbortSignal.timeout(this.config.timeoutMs);
    let res: Response;
    try {
      res = await this.send(`${this.config.baseUrl.replace(/\/+$/, '')}${path}`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', ...(key && { authorization: `Bearer ${key}` }) },
        body: JSON.stringify(payload),
        // A redirect is a misconfigured baseUrl: following it would resend the key and (for a POST) change the method.
        redirect: 'manual',
        signal: signal ? AbortSignal.any([signal, timeout]) : timeout,
      });
    } catch (e) {
      if (timeout.aborted) throw new GatewayError(504, 'timeout_error', `${this.config.kind} upstream "${this.config.name}" did not answer in ${this.config.timeoutMs} ms`, 'upstream_timeout', null, true);
      throw new GatewayError(502, 'api_error', `Connection to ${this.config.kind} upstream "${this.config.name}" failed: ${(e as Error).message}`, 'upstream_connection', null, true);
    }
    if (!res.ok) throw upstreamError(this.config, res.status, await readBounded(res), res.headers.get('location'), res.headers.get('retry-after'));
    return res;
  }
}
