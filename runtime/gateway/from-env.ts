import { BedrockInvoker, SecretCredentialSource, secretsClient } from './bedrock';
import { createGateway, Gateway } from './gateway';
import { OpenAiUpstream } from './openai-upstream';
import { runtimeConfigFromEnv } from './runtime-config';

/** The gateway as every AWS host builds it: settings from the environment, keys (Bedrock, upstreams) from Secrets Manager. */
export function gatewayFromEnv(env: NodeJS.ProcessEnv = process.env): Gateway {
  const config = runtimeConfigFromEnv(env);
  const secrets = secretsClient(config);
  const credentials = config.credentialSecretId ? new SecretCredentialSource(secrets, config.credentialSecretId) : undefined;
  const upstreams = new Map(config.upstreams.map((u) => [u.name, new OpenAiUpstream(u, secrets)]));
  return createGateway({ config, bedrock: new BedrockInvoker(config, credentials), upstreams });
}
