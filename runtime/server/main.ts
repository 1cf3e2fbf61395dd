import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { z } from 'zod';
import { gatewayFromEnv } from '../gateway/from-env';
import { ApiKeyAuthenticator, ApiKeyTable } from './api-keys';
import { Authenticator, startStreamingServer } from './server';
import { StsPresignedAuthenticator } from './sts-auth';

/** The container's own settings (no secrets), passed by the stack as one JSON environment variable. */
export const SERVER_CONFIG_ENV = 'CNLLM_SERVER_CONFIG';
export const ServerConfigSchema = z.object({
  port: z.number().int().default(8080),
  region: z.string(),
  apiKeyTable: z.string().optional(),
  apiKeyCacheSeconds: z.number().int().min(0).default(30),
  sts: z.object({ audience: z.string(), allowedAccounts: z.array(z.string()).default([]), endpoints: z.array(z.string()).min(1) }).optional(),
  drainSeconds: z.number().int().min(0).default(100),
});

async function main() {
  const settings = ServerConfigSchema.parse(JSON.parse(process.env[SERVER_CONFIG_ENV] ?? '{}'));
  const authenticators: Authenticator[] = [];
  if (settings.apiKeyTable) authenticators.push(new ApiKeyAuthenticator(new ApiKeyTable(new DynamoDBClient({ region: settings.region }), settings.apiKeyTable), settings.apiKeyCacheSeconds));
  if (settings.sts) authenticators.push(new StsPresignedAuthenticator({ allowedEndpoints: settings.sts.endpoints, audience: settings.sts.audience, allowedAccounts: settings.sts.allowedAccounts }));
  if (authenticators.length === 0) throw new Error(`${SERVER_CONFIG_ENV} enables neither API keys nor STS tokens: the server would let nobody in`);

  const server = await startStreamingServer({ gateway: gatewayFromEnv(), authenticators, port: settings.port, drainSeconds: settings.drainSeconds });
  process.stdout.write(`${JSON.stringify({ level: 'info', msg: 'listening', url: server.url })}\n`);
  process.once('SIGTERM', () => {
    void server.drain().then(() => process.exit(0));
  });
}

main().catch((e) => {
  process.stderr.write(`${JSON.stringify({ level: 'error', msg: 'failed to start', error: (e as Error).message })}\n`);
  process.exit(1);
});
