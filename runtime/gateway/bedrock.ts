import { BedrockRuntimeClient } from '@aws-sdk/client-bedrock-runtime';
import { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { NodeHttpHandler } from '@smithy/node-http-handler';
import type { AwsCredentialIdentity } from '@smithy/types';
import { BedrockRerankApi } from './bedrock-rerank-api';
import { CachedSecret } from './cached-secret';
import { GatewayError, isCredentialRejection } from './errors';
import { jsonObject } from './json';
import { assertCleared, ClearedModel } from './residency';
import { RetryOptions, withRetries } from './retry';
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
  private readonly secret: CachedSecret<AwsCredentialIdentity>;

  constructor(client: SecretsManagerClient, secretId: string) {
    this.secret = new CachedSecret(client, secretId, 'its Bedrock credential', (text) => {
      const parsed = jsonObject(text);
      if (typeof parsed?.accessKeyId !== 'string' || typeof parsed?.secretAccessKey !== 'string') {
        throw new GatewayError(
          503,
          'api_error',
          'The gateway has no Bedrock credential yet: an operator must run `npm run link-credentials` to store the global access key.',
          'credential_not_linked',
        );
      }
      return { accessKeyId: parsed.accessKeyId, secretAccessKey: parsed.secretAccessKey };
    });
  }

  get(): Promise<AwsCredentialIdentity> {
    return this.secret.get();
  }

  invalidate(): void {
    this.secret.invalidate();
  }
}

/**
 * Calls Bedrock with the gateway's credential and retry policy (withRetries: only before the first
 * byte reached the caller). A rejected credential is reloaded once (it may have been rotated).
 */
export class BedrockInvoker {
  private client?: BedrockRuntimeClient;
  private readonly rerankApis = new Map<string, BedrockRerankApi>();
  /** One socket pool per process, kept when the client is rebuilt after a credential reload. */
  private readonly requestHandler: NodeHttpHandler;

  constructor(
    private readonly config: GatewayRuntimeConfig,
    private readonly credentials?: CredentialSource,
    private readonly sleep: (ms: number) => Promise<void> = (ms) => new Promise((r) => setTimeout(r, ms)),
  ) {
    const pool = { keepAlive: true, maxSockets: config.bedrockMaxSockets };
    // throwOnRequestTimeout: without it this handler only warns and the call waits for Bedrock regardless.
    this.requestHandler = new NodeHttpHandler({
      connectionTimeout: config.timeouts.connectMs,
      requestTimeout: config.timeouts.requestMs,
      throwOnRequestTimeout: true,
      httpsAgent: pool,
      httpAgent: pool,
    });
  }

  private clientSettings(region: string) {
    return {
      region,
      ...(this.config.bedrockEndpoint && { endpoint: this.config.bedrockEndpoint }),
      ...(this.credentials && { credentials: () => this.credentials!.get() }),
      // Retries are ours: they must stop once the first byte reached the caller.
      maxAttempts: 1,
      requestHandler: this.requestHandler,
    };
  }

  private bedrock(): BedrockRuntimeClient {
    this.client ??= new BedrockRuntimeClient(this.clientSettings(this.config.bedrockRegion));
    return this.client;
  }

  /** The Rerank API in a region (rerankers are not offered in every region), with the runtime client's credential. */
  private rerankApi(region: string): BedrockRerankApi {
    let api = this.rerankApis.get(region);
    if (!api) {
      api = new BedrockRerankApi({ region, credentials: this.bedrock().config.credentials, endpoint: this.config.bedrockEndpoint, timeoutMs: this.config.timeouts.requestMs });
      this.rerankApis.set(region, api);
    }
    return api;
  }

  /** `model` is what the call serves: only a model the residency gate cleared opens a connection. */
  call<T>(fn: (client: BedrockRuntimeClient) => Promise<T>, opts: Omit<RetryOptions, 'sleep'> & { model: ClearedModel }): Promise<T> {
    return this.withCredential(() => fn(this.bedrock()), opts);
  }

  /** The same for the Rerank API, in the model's region (`model.region`, else bedrockRegion). */
  callRerank<T>(fn: (api: BedrockRerankApi) => Promise<T>, opts: Omit<RetryOptions, 'sleep'> & { model: ClearedModel }): Promise<T> {
    return this.withCredential(() => fn(this.rerankApi(opts.model.region ?? this.config.bedrockRegion)), opts);
  }

  private async withCredential<T>(attempt: () => Promise<T>, opts: Omit<RetryOptions, 'sleep'> & { model: ClearedModel }): Promise<T> {
    assertCleared(opts.model);
    let reloadedCredential = false;
    return withRetries(
      async () => {
        try {
          return await attempt();
        } catch (error) {
          // A rotated key: read the secret again once and retry at once (not counted as an attempt).
          if (!isCredentialRejection(error) || !this.credentials || reloadedCredential || !(opts.canRetry?.() ?? true)) throw error;
          reloadedCredential = true;
          this.credentials.invalidate();
          this.client = undefined;
          this.rerankApis.clear();
          return attempt();
        }
      },
      this.config.retry,
      { ...opts, sleep: this.sleep },
    );
  }
}

export function secretsClient(config: GatewayRuntimeConfig): SecretsManagerClient {
  return new SecretsManagerClient({
    ...(config.secretRegion && { region: config.secretRegion }),
    ...(config.secretsEndpoint && { endpoint: config.secretsEndpoint }),
  });
}
