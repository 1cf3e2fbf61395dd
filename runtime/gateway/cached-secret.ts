import { GetSecretValueCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { GatewayError } from './errors';

/**
 * A secret read from Secrets Manager once and kept for the life of the process (a Lambda container
 * or a server), parsed on the way in. A failed read or parse is forgotten, so the next request tries
 * again: an operator may have just put the value.
 */
export class CachedSecret<T> {
  private cached?: Promise<T>;

  constructor(
    private readonly client: SecretsManagerClient,
    private readonly secretId: string,
    /** What the secret holds, for the error message, e.g. "its Bedrock credential". */
    private readonly what: string,
    private readonly parse: (text: string) => T,
  ) {}

  get(): Promise<T> {
    this.cached ??= this.load().catch((e) => {
      this.cached = undefined;
      throw e;
    });
    return this.cached;
  }

  /** The next get() reads the secret again (after a rotation). */
  invalidate(): void {
    this.cached = undefined;
  }

  private async load(): Promise<T> {
    let text: string;
    try {
      text = (await this.client.send(new GetSecretValueCommand({ SecretId: this.secretId }))).SecretString ?? '';
    } catch (e) {
      throw new GatewayError(500, 'api_error', `The gateway could not read ${this.what} from Secrets Manager (${(e as Error).name}).`, 'credential_unavailable');
    }
    return this.parse(text);
  }
}
