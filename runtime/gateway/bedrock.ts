import { BedrockRuntimeClient } from '@aws-sdk/client-bedrock-runtime';
import { GetSecretValueCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { NodeHttpHandler } from '@smithy/node-http-handler';
import type { AwsCredentialIdentity } from '@smithy/types';
import { fromUpstream, GatewayError, isCredentialRejection } from './errors';
import { GatewayRuntimeConfig } from './runtime-config';

/** Where the global (aws partition) credential comes from. */
export interface CredentialSource {
  get(): Promise<AwsCredentialIdentity>;
  /** Forget the cached credential: the next get() reads it again (after a rotation). */
  invalidate(): void;
}

/**
 * The gateway user's access key, read at run time from a KMS-encrypted Secrets Manager secret in
 * the China region (never from the template or environment), cached across invocations.
 */
export class SecretCredentialSource implements CredentialSource {
  private cached?: Promise<AwsCredentialIdentity>;

  constructor(
    private readonly client: SecretsManagerClient,
    private readonly secretId: string,
  ) {}

  get(): Promise<AwsCredentialIdentity> {
    this.cached ??= this.load().catch((e) => {
      this.cached = undefined;
      throw e;
    });
    return this.cached;
  }

  invalidate(): void {
    this.cached = undefined;
  }

  private async load(): Promise<AwsCredentialIdentity> {
    let text: string | undefined;
    try {
      text = (await this.client.send(new GetSecretValueCommand({ SecretId: this.secretId }))).SecretString;
    } catch (e) {
      throw new GatewayError(500, 'api_error', `The gateway could not read its Bedrock credential from Secrets Manager (${(e as Error).name}).`, 'credential_unavailable');
    }
    const parsed = safeJson(text);
    if (typeof parsed?.accessKeyId !== 'string' || typeof parsed?.secretAccessKey !== 'string') {
      throw new GatewayError(
        503,
        'api_error',
        'The gateway has no Bedrock credential yet: an operator must run `npm run link-credentials` to store the global access key.',
        'credential_not_linked',
      );
    }
    return { accessKeyId: parsed.accessKeyId, secretAccessKey: parsed.secretAccessKey };
  }
}

function safeJson(text: string | undefined): Record<string, unknown> | undefined {
  try {
    return text ? (JSON.parse(text) as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
}

export interface Attempt {
  /** 1-based attempt number. */
  readonly attempt: number;
}

/**
 * Calls Bedrock with the gateway's credential and retry policy: throttling, 5xx and connection
 * failures are retried with exponential backoff and full jitter, but only while `canRetry()` says
 * nothing has reached the caller yet. A rejected credential is reloaded once (it may have been rotated).
 */
export class BedrockInvoker {
  private client?: BedrockRuntimeClient;

  constructor(
    private readonly config: GatewayRuntimeConfig,
    private readonly credentials?: CredentialSource,
    private readonly sleep: (ms: number) => Promise<void> = (ms) => new Promise((r) => setTimeout(r, ms)),
  ) {}

  private bedrock(): BedrockRuntimeClient {
    this.client ??= new BedrockRuntimeClient({
      region: this.config.bedrockRegion,
      ...(this.config.bedrockEndpoint && { endpoint: this.config.bedrockEndpoint }),
      ...(this.credentials && { credentials: () => this.credentials!.get() }),
      // Retries are ours: they must stop once the first byte reached the caller.
      maxAttempts: 1,
      // throwOnRequestTimeout: without it this handler only warns and the call waits for Bedrock regardless.
      requestHandler: new NodeHttpHandler({ connectionTimeout: this.config.timeouts.connectMs, requestTimeout: this.config.timeouts.requestMs, throwOnRequestTimeout: true }),
    });
    return this.client;
  }

  async call<T>(fn: (client: BedrockRuntimeClient, attempt: Attempt) => Promise<T>, opts: { signal?: AbortSignal; canRetry?: () => boolean } = {}): Promise<T> {
    const { maxAttempts, baseDelayMs, maxDelayMs } = this.config.retry;
    let reloadedCredential = false;
    for (let attempt = 1; ; attempt++) {
      try {
        return await fn(this.bedrock(), { attempt });
      } catch (error) {
        if (opts.signal?.aborted) throw new GatewayError(499, 'api_error', 'The caller went away.', 'client_closed_request');
        const stillRetriable = opts.canRetry?.() ?? true;
        if (isCredentialRejection(error) && this.credentials && !reloadedCredential && stillRetriable) {
          reloadedCredential = true;
          this.credentials.invalidate();
          this.client = undefined;
          attempt--;
          continue;
        }
        const mapped = fromUpstream(error);
        if (!mapped.retryable || attempt >= maxAttempts || !stillRetriable) throw mapped;
        // Full jitter: a random wait up to the exponential cap spreads out callers that were throttled together.
        await this.sleep(Math.random() * Math.min(maxDelayMs, baseDelayMs * 2 ** (attempt - 1)));
      }
    }
  }
}

export function secretsClient(config: GatewayRuntimeConfig): SecretsManagerClient {
  return new SecretsManagerClient({
    ...(config.secretRegion && { region: config.secretRegion }),
    ...(config.secretsEndpoint && { endpoint: config.secretsEndpoint }),
  });
}
