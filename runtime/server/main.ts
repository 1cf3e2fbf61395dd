import { gatewayFromEnv } from '../gateway/from-env';
import { ApiKeyAuthenticator, ApiKeyTable, keyLookupClient } from './api-keys';
import { Authenticator, startStreamingServer } from './server';
import { SERVER_CONFIG_ENV, ServerConfigSchema } from './server-config';
import { StsPresignedAuthenticator } from './sts-auth';

async function main() {
  const settings = ServerConfigSchema.parse(JSON.parse(process.env[SERVER_CONFIG_ENV] ?? '{}'));
  const authenticators: Authenticator[] = [];
  if (settings.apiKeyTable) authenticators.push(new ApiKeyAuthenticator(new ApiKeyTable(keyLookupClient({ region: settings.region }, settings.apiKeyLookupTimeoutMs), settings.apiKeyTable), settings.apiKeyCacheSeconds));
  if (settings.sts) authenticators.push(new StsPresignedAuthenticator({ allowedEndpoints: settings.sts.endpoints, audience: settings.sts.audience, allowedAccounts: settings.sts.allowedAccounts, timeoutMs: settings.sts.timeoutMs }));
  if (authenticators.length === 0) throw new Error(`${SERVER_CONFIG_ENV} enables neither API keys nor STS tokens: the server would let nobody in`);

  const server = await startStreamingServer({ gateway: gatewayFromEnv(), authenticators, port: settings.port, requestTimeoutSeconds: settings.requestTimeoutSeconds, drainSeconds: settings.drainSeconds });
  process.stdout.write(`${JSON.stringify({ level: 'info', msg: 'listening', url: server.url })}\n`);
  process.once('SIGTERM', () => {
    void server.drain().then(() => process.exit(0));
  });
}

main().catch((e) => {
  process.stderr.write(`${JSON.stringify({ level: 'error', msg: 'failed to start', error: (e as Error).message })}\n`);
  process.exit(1);
});
