import * as path from 'path';
import { newApiKey } from '../runtime/server/api-keys';
import { Authenticator, startStreamingServer } from '../runtime/server/server';
import { StsPresignedAuthenticator } from '../runtime/server/sts-auth';
import { ApiKeyAuthenticator } from '../runtime/server/api-keys';
import { IdleHeapReclaimer } from '../runtime/server/idle-heap-reclaimer';
import { OperatorError } from '../runtime/operator/operator-error';
import { GROUP_NAME } from '../lib/config/schema/quotas';
import { configFromArgs, flagValue, flagValues, runCli } from './cli-config';
import { ApiKeyFile } from './local/api-key-file';
import { localRouting, ROUTING_USAGE } from './local/local-routes';

const DEFAULT_KEYS_FILE = path.join('.cnllm-local', 'door-api-keys.json');
const CALLER_PATTERN = /^[A-Za-z0-9._@-]{1,64}$/;

const USAGE = `Usage: npm run door:local -- [--port 8788] [--host 127.0.0.1] [--sts-endpoint URL ...] [--drain-seconds 5]
                             [--bedrock-endpoint URL | --profile NAME] [--vllm NAME=URL ...] [--upstream-keys FILE]
                             [--api-keys-file FILE] [--config FILE] [-c key=value ...]
       npm run door:local -- issue-key --caller NAME [--group GROUP] | revoke-key --key-id ID | list-keys   [--api-keys-file FILE]

Serves the streaming door (runtime/server, the container of gateway.streamingDoor) on localhost:
real streaming, bearer API keys, optional STS tokens, the same routes as gateway:local.
  --api-keys-file FILE    the door's caller keys (hashes only) instead of DynamoDB
                          (default ${DEFAULT_KEYS_FILE}); a key is issued on first start
  issue-key / revoke-key / list-keys   manage that file, like npm run api-keys does the table;
                          the running door sees changes within gateway.streamingDoor.apiKeyCacheSeconds
  --sts-endpoint URL      also accept STS tokens verified at this STS origin, e.g.
                          https://sts.cn-northwest-1.amazonaws.com.cn (audience: the config prefix)
${ROUTING_USAGE}`;

async function manageKeys(command: string, args: string[], keys: ApiKeyFile): Promise<void> {
  if (command === 'issue-key') {
    const caller = flagValue(args, '--caller');
    if (!caller || !CALLER_PATTERN.test(caller)) throw new OperatorError('issue-key needs --caller NAME (letters, digits, . _ @ -; shown in logs and metrics)');
    const group = flagValue(args, '--group');
    if (group !== undefined && !GROUP_NAME.test(group)) throw new OperatorError(`--group ${group}: a group name is 1-40 lower-case letters, digits or "-", starting with a letter`);
    const { key, record } = newApiKey(caller, new Date(), group);
    await keys.put(record);
    console.log(`issued key ${record.keyId} for ${caller}${group ? ` in group ${group}` : ''}:\n${key}\nStore it now: ${keys.file} keeps only its hash.`);
  } else if (command === 'revoke-key') {
    const keyId = flagValue(args, '--key-id');
    if (!keyId) throw new OperatorError('revoke-key needs --key-id ID (see: npm run door:local -- list-keys)');
    await keys.revoke(keyId);
    console.log(`revoked ${keyId}: the running door refuses it within its cache time`);
  } else {
    for (const r of await keys.list()) console.log(`${r.keyId}  ${r.caller}  ${r.group ? `group ${r.group}  ` : ''}issued ${r.createdAt}${r.revokedAt ? `  revoked ${r.revokedAt}` : ''}`);
  }
}

async function main(args: string[]): Promise<void> {
  if (args.includes('--help') || args.includes('-h')) return console.log(USAGE);
  const keys = new ApiKeyFile(flagValue(args, '--api-keys-file') ?? DEFAULT_KEYS_FILE);
  if (['issue-key', 'revoke-key', 'list-keys'].includes(args[0])) return manageKeys(args[0], args, keys);
  if (args[0] && !args[0].startsWith('-')) throw new OperatorError(`unknown command "${args[0]}" (commands: issue-key, revoke-key, list-keys; none serves the door)`);

  const config = configFromArgs(args);
  const door = config.gateway.streamingDoor;
  const routing = localRouting(config, args);
  let firstKey: string | undefined;
  if ((await keys.list()).every((r) => r.revokedAt)) {
    const { key, record } = newApiKey('local-dev');
    await keys.put(record);
    firstKey = key;
  }
  const authenticators: Authenticator[] = [new ApiKeyAuthenticator(keys, door.apiKeyCacheSeconds)];
  const stsEndpoints = flagValues(args, '--sts-endpoint');
  if (stsEndpoints.length > 0) {
    authenticators.push(new StsPresignedAuthenticator({ allowedEndpoints: stsEndpoints.map((e) => new URL(e).origin), audience: config.prefix, allowedAccounts: door.stsAllowedAccounts ?? [config.china.account] }));
  }
  const server = await startStreamingServer({
    gateway: routing.gateway,
    authenticators,
    port: Number(flagValue(args, '--port') ?? 8788),
    host: flagValue(args, '--host') ?? '127.0.0.1',
    drainSeconds: Number(flagValue(args, '--drain-seconds') ?? 5),
    // As in the image (npm run door:local starts node with its flags): a burst's memory goes back once idle.
    idleHeapReclaimer: new IdleHeapReclaimer({ log: (line) => process.stdout.write(`${JSON.stringify(line)}\n`) }),
  });
  const model = routing.settings.models[0].alias;
  console.error(`cn-llm-kit streaming door on ${server.url} (Bedrock: ${routing.bedrockDescription}; residency: ${routing.settings.residency})`);
  console.error(`auth: API keys in ${keys.file} (cache ${door.apiKeyCacheSeconds} s)${stsEndpoints.length > 0 ? `, STS tokens via ${stsEndpoints.join(', ')} (audience "${config.prefix}")` : ''}`);
  console.error(`routes:\n${routing.routeLines.join('\n')}`);
  console.error(routing.ledger ? `usage ledger: ${routing.ledger.dir} (npm run usage -- --dir ${routing.ledger.dir} --from YYYY-MM-DD --to YYYY-MM-DD)` : 'usage ledger: off (--no-ledger)');
  console.error(`quotas: ${routing.quotaDescription}`);
  if (firstKey) console.error(`issued an API key for caller local-dev (shown once; only its hash is kept):\n${firstKey}`);
  console.error(`more keys: npm run door:local -- issue-key --caller NAME   (revoke-key --key-id ID, list-keys)
try: export CNLLM_API_KEY=<the key>
  curl -sN ${server.url}/v1/chat/completions -H "authorization: Bearer $CNLLM_API_KEY" -H 'content-type: application/json' -d '{"model":"${model}","stream":true,"messages":[{"role":"user","content":"hello"}]}'
  node -e 'const OpenAI = require("openai"); new OpenAI({ baseURL: "${server.url}/v1", apiKey: process.env.CNLLM_API_KEY }).chat.completions.create({ model: "${model}", messages: [{ role: "user", content: "hello" }] }).then((r) => console.log(r.choices[0].message.content))'`);
  await new Promise<void>((resolve) => {
    const stop = () => void server.drain().then(resolve);
    process.once('SIGINT', stop);
    process.once('SIGTERM', stop);
  });
}

runCli('door:local', main);
