import { BedrockInvoker, SecretCredentialSource, secretsClient } from './bedrock';
import { createGateway, Gateway } from './gateway';
import { runtimeConfigFromEnv } from './runtime-config';

/** The gateway as every AWS host builds it: settings from the environment, the Bedrock key from Secrets Manager. */
export function gatewayFromEnv(env: NodeJS.ProcessEnv = process.env): Gateway {
  const config = runtimeConfigFromEnv(env);
  const credentials = config.credentialSecretId ? new SecretCredentialSource(secretsClient(config), config.credentialSecretId) : undefined;
  return createGateway({ config, bedrock: new BedrockInvoker(config, credentials) });
}
