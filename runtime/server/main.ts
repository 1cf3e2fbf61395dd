import { gatewayFromEnv } from '../gateway/from-env';
import { ApiKeyAuthenticator, ApiKeyTable, keyLookupClient } from './api-keys';
import { IdleHeapReclaimer } from './idle-heap-reclaimer';
import { Authenticator, startStreamingServer } from './server';
import { SERVER_CONFIG_ENV, ServerConfigSchema } from './server-config';
import { StsPresignedAuthenticator } from './sts-auth';

async function main() {
  const settings = ServerConfigSchema.parse(JSON.parse(process.env[SERVER_CONFIG_ENV] ?? '{}'));
  const authenticators: Authenticator[] = [];
  if (settings.apiKeyTable) authenticators.push(new ApiKeyAuthenticator(new ApiKeyTable(keyLookupClient({ region: settings.region }, settings.apiKeyLookupTimeoutMs), settings.apiKeyTable), settings.apiKeyCacheSeconds));
  if (settings.sts) authenticators.push(new StsPresignedAuthenticator({ allowedEndpoints: settings.sts.endpoints, audience: settings.sts.audience, allowedAccounts: settings.sts.allowedAccounts, timeoutMs: settings.sts.timeoutMs }));
  if (authenticators.length === 0) throw new Error(`${SERVER_CONFIG_ENV} enables neither API keys nor STS tokens: the server would let nobody in`);

  const log = (line: Record<string, unknown>) => process.stdout.write(`${JSON.stringify(line)}\n`);
  const idleHeapReclaimer = new IdleHeapReclaimer({ idleMs: settings.idleHeapReclaimSeconds * 1000, log });
  if (!idleHeapReclaimer.enabled && settings.idleHeapReclaimSeconds > 0) log({ level: 'warn', msg: 'node runs without --expose-gc: memory after a burst is returned only when V8 gets to it (10 to 20 s)' });
  const server = await startStreamingServer({
    gateway: gatewayFromEnv(),
    authenticators,
    port: settings.port,
    requestTimeoutSeconds: settings.requestTimeoutSeconds,
    drainSeconds: settings.drainSeconds,
    keepAliveTimeoutSeconds: settings.keepAliveTimeoutSeconds,
    idleHeapReclaimer,
    log,
  });
  log({ level: 'info', msg: 'listening', url: server.url });
  process.once('SIGTERM', () => {
    void server.drain().then(() => process.exit(0));
  });
}

main().catch((e) => {
  process.stderr.write(`${JSON.stringify({ level: 'error', msg: 'failed to start', error: (e as Error).message })}\n`);
  process.exit(1);
});
