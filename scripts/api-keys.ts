import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { names } from '../lib/config/names';
import { OperatorError, attempt } from '../runtime/operator/operator-error';
import { ApiKeyTable, newApiKey } from '../runtime/server/api-keys';
import { configFromArgs, flagValue, profileClientConfig, runCli } from './cli-config';

const USAGE = `Usage: npm run api-keys -- issue --caller NAME | revoke --key-id ID | list   [--china-profile NAME] [--config FILE] [-c key=value ...]

Caller API keys of the in-VPC streaming gateway (table <prefix>-api-keys; only hashes are stored).
  issue   prints a new key once: hand it to the caller, it cannot be shown again
  revoke  stops a key within the server's cache time (30 s), no redeploy
  list    key ids, callers, dates`;

async function main(args: string[]): Promise<void> {
  const command = args[0];
  if (!command || command === '--help' || command === '-h' || !['issue', 'revoke', 'list'].includes(command)) {
    console.log(USAGE);
    if (command && !['--help', '-h'].includes(command)) throw new OperatorError(`unknown command "${command}"`);
    return;
  }
  const config = configFromArgs(args);
  const client = await profileClientConfig(flagValue(args, '--china-profile') ?? 'china', config.china.region);
  const table = new ApiKeyTable(new DynamoDBClient(client), names(config).apiKeyTable);
  if (command === 'issue') {
    const caller = flagValue(args, '--caller');
    if (!caller || !/^[A-Za-z0-9._@-]{1,64}$/.test(caller)) throw new OperatorError('issue needs --caller NAME (letters, digits, . _ @ -; shown in logs and metrics)');
    const { key, record } = newApiKey(caller);
    await attempt('store the key hash', () => table.put(record));
    console.log(`issued key ${record.keyId} for ${caller}:\n${key}\nStore it now: only its hash is kept.`);
  } else if (command === 'revoke') {
    const keyId = flagValue(args, '--key-id');
    if (!keyId) throw new OperatorError('revoke needs --key-id ID (see: npm run api-keys -- list)');
    await attempt(`revoke key ${keyId} (does it exist?)`, () => table.revoke(keyId));
    console.log(`revoked ${keyId}: refused within the server's cache time`);
  } else {
    for (const r of await attempt('list keys', () => table.list())) console.log(`${r.keyId}  ${r.caller}  issued ${r.createdAt}${r.revokedAt ? `  revoked ${r.revokedAt}` : ''}`);
  }
}

runCli('api-keys', main);
