import { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { CachedSecret } from './cached-secret';
import { GatewayError } from './errors';
import { GatewayRuntimeConfig } from './runtime-config';

export type UpstreamConfig = GatewayRuntimeConfig['upstreams'][number];

/** An upstream's answer that is not 2xx, as the gateway reports and retries it. */
function upstreamError(upstream: UpstreamConfig, status: number, body: string): GatewayError {
  const message = (() => {
    try {
      return (JSON.parse(body) as { error?: { message?: string }; message?: string }).error?.message ?? body.slice(0, 300);
    } catch {
      return body.slice(0, 300);
    }
  })();
  const where = `${upstream.kind} upstream "${upstream.name}"`;
  if (status === 429) return new GatewayError(429, 'rate_limit_error', `${where} is rate limiting: ${message}`, 'rate_limit_exceeded', null, true);
  if (status === 401 || status === 403) return new GatewayError(502, 'api_error', `${where} refused the gateway's key (${status}); check its secret.`, 'upstream_access_denied');
  if (status >= 500) return new GatewayError(502, 'api_error', `${where} failed (${status}): ${message}`, 'upstream_error', null, true);
  return new GatewayError(status === 404 ? 404 : 400, 'invalid_request_error', `${where} rejected the request (${status}): ${message}`, 'upstream_rejected');
}

/** Where an upstream's API key comes from when it is not Secrets Manager (a developer's machine: environment or file). */
export interface UpstreamKeySource {
  get(): Promise<string>;
}

/** An OpenAI-compatible service the gateway forwards to: a vLLM load balancer in the VPC or a domestic provider. */
export class OpenAiUpstream {
  private readonly key?: UpstreamKeySource;

  constructor(
    readonly config: UpstreamConfig,
    secrets?: SecretsManagerClient,
    localKey?: UpstreamKeySource,
  ) {
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
  async chatCompletions(payload: object, signal?: AbortSignal): Promise<Response> {
    const key = await this.key?.get();
    const timeout = AbortSignal.timeout(this.config.timeoutMs);
    let res: Response;
    try {
      res = await fetch(`${this.config.baseUrl.replace(/\/+$/, '')}/chat/completions`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', ...(key && { authorization: `Bearer ${key}` }) },
        body: JSON.stringify(payload),
        signal: signal ? AbortSignal.any([signal, timeout]) : timeout,
      });
    } catch (e) {
      if (timeout.aborted) throw new GatewayError(504, 'timeout_error', `${this.config.kind} upstream "${this.config.name}" did not answer in ${this.config.timeoutMs} ms`, 'upstream_timeout', null, true);
      throw new GatewayError(502, 'api_error', `Connection to ${this.config.kind} upstream "${this.config.name}" failed: ${(e as Error).message}`, 'upstream_connection', null, true);
    }
    if (!res.ok) throw upstreamError(this.config, res.status, await res.text());
    return res;
  }
}
