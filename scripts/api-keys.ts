import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { names } from '../lib/config/names';
import { KitConfig } from '../lib/config/schema';
import { GROUP_NAME } from '../lib/config/schema/quotas';
import { stableCaller } from '../runtime/gateway/caller';
import { OperatorError, attempt } from '../runtime/operator/operator-error';
import { DynamoCounterStore } from '../runtime/quota/dynamo-counter-store';
import { DynamoJsonClient } from '../runtime/quota/dynamo-json-client';
import { LIMIT_FIELDS, LimitTable, LimitTarget } from '../runtime/quota/limit-table';
import { Limits } from '../runtime/quota/quota-config';
import { windowOf } from '../runtime/quota/windows';
import { ApiKeyTable, newApiKey } from '../runtime/server/api-keys';
import { configFromArgs, flagValue, profileClientConfig, runCli } from './cli-config';

const USAGE = `Usage: npm run api-keys -- issue --caller NAME [--group GROUP] | revoke --key-id ID | list
       npm run api-keys -- set-group --key-id ID --group GROUP
       npm run api-keys -- limits (--key-id ID | --group GROUP | --principal ARN) [--requests-per-minute N]
                          [--tokens-per-minute N] [--daily-tokens N] [--monthly-tokens N]
                          [--daily-budget AMOUNT] [--monthly-budget AMOUNT] [--in-group GROUP] [--clear]
       npm run api-keys -- show-limits
       [--china-profile NAME] [--config FILE] [-c key=value ...]

Caller API keys of the in-VPC streaming gateway (table <prefix>-api-keys; only hashes are stored).
  issue        prints a new key once: hand it to the caller, it cannot be shown again;
               --group puts it in a team whose limits and budgets it shares (quotas)
  revoke       stops a key within the server's cache time (30 s), no redeploy
  list         key ids, callers, groups, dates
  set-group    moves a key to another group (within the key cache time)
Quotas (table <prefix>-quotas; both front doors read it within quotas.limitsCacheSeconds):
  limits       replaces the limits of a key, a group or an IAM principal (an assumed-role session
               counts as its role); limits left out no longer apply; --in-group puts a principal in
               a group; --clear removes the entry (config limits apply again)
  show-limits  the limits in config and in the table, and each group's use this month`;

const FLAGS: Record<(typeof LIMIT_FIELDS)[number], string> = {
  requestsPerMinute: '--requests-per-minute',
  tokensPerMinute: '--tokens-per-minute',
  dailyTokens: '--daily-tokens',
  monthlyTokens: '--monthly-tokens',
  dailyBudget: '--daily-budget',
  monthlyBudget: '--monthly-budget',
};

function groupFlag(args: string[], flag: string): string | undefined {
  const group = flagValue(args, flag);
  if (group !== undefined && !GROUP_NAME.test(group)) throw new OperatorError(`${flag} ${group}: a group name is 1-40 lower-case letters, digits or "-", starting with a letter`);
  return group;
}

function limitFlags(args: string[]): Limits {
  const limits: Record<string, number> = {};
  for (const field of LIMIT_FIELDS) {
    const raw = flagValue(args, FLAGS[field]);
    if (raw === undefined) continue;
    const value = Number(raw);
    const money = field.endsWith('Budget');
    if (!Number.isFinite(value) || value <= 0 || (!money && !Number.isInteger(value))) throw new OperatorError(`${FLAGS[field]} ${raw}: must be a positive ${money ? 'amount' : 'whole number'}`);
    limits[field] = value;
  }
  return limits;
}

function limitTarget(args: string[]): LimitTarget {
  const keyId = flagValue(args, '--key-id');
  const group = groupFlag(args, '--group');
  const principal = flagValue(args, '--principal');
  const given = [keyId, group, principal].filter((v) => v !== undefined);
  if (given.length !== 1) throw new OperatorError('limits needs exactly one of --key-id ID, --group GROUP, --principal ARN');
  if (group !== undefined) return { kind: 'group', name: group };
  if (keyId !== undefined) return { kind: 'identity', name: keyId };
  if (!/^arn:aws(-cn)?:(iam|sts)::\d{12}:/.test(principal!)) throw new OperatorError(`--principal ${principal}: must be an IAM ARN, e.g. arn:aws-cn:iam::123456789012:role/team-a-ci`);
  return { kind: 'identity', name: stableCaller(principal!) };
}

const describe = (limits: Limits) =>
  LIMIT_FIELDS.filter((f) => limits[f] !== undefined)
    .map((f) => `${f} ${limits[f]}`)
    .join(', ') || 'none';

async function showLimits(config: KitConfig, limitTable: LimitTable, counters: DynamoCounterStore): Promise<void> {
  const q = config.quotas;
  const entries = await attempt('read the limits', () => limitTable.entries());
  const groups = [...new Set(['default', ...Object.keys(q.groups), ...Object.keys(entries.groups)])];
  const month = windowOf('month', Date.now(), q.utcOffsetHours);
  console.log(`groups (config, then the table's overrides; use in ${month.id.slice(1)}):`);
  for (const group of groups) {
    const fromConfig = group === 'default' ? q.default : q.groups[group];
    const used = await attempt(`read the use of group ${group}`, () => counters.read(`g#${group}#${month.id}`));
    console.log(`  ${group}: config ${fromConfig ? describe(fromConfig) : 'none'}${fromConfig?.perIdentity ? `; per identity ${describe(fromConfig.perIdentity)}` : ''}; table ${entries.groups[group] ? describe(entries.groups[group]) : 'none'}; used ${used.tokens} tokens, ${used.cost} ${q.currency}`);
  }
  console.log('identities (table):');
  for (const [identity, entry] of Object.entries(entries.identities)) console.log(`  ${identity}: ${describe(entry.limits)}${entry.group ? `; group ${entry.group}` : ''}`);
  if (q.principals.length > 0) console.log(`principal patterns (config): ${q.principals.map((p) => `${p.pattern} -> ${p.group}`).join('; ')}`);
}

async function main(args: string[]): Promise<void> {
  const command = args[0];
  const commands = ['issue', 'revoke', 'list', 'set-group', 'limits', 'show-limits'];
  if (!command || command === '--help' || command === '-h' || !commands.includes(command)) {
    console.log(USAGE);
    if (command && !['--help', '-h'].includes(command)) throw new OperatorError(`unknown command "${command}"`);
    return;
  }
  const config = configFromArgs(args);
  const clientConfig = await profileClientConfig(flagValue(args, '--china-profile') ?? 'china', config.china.region);
  const table = new ApiKeyTable(new DynamoDBClient(clientConfig), names(config).apiKeyTable);
  const quotaClient = new DynamoJsonClient({ ...clientConfig, timeoutMs: 10_000 });
  const limitTable = new LimitTable(quotaClient, names(config).quotaTable);
  if (command === 'issue') {
    const caller = flagValue(args, '--caller');
    if (!caller || !/^[A-Za-z0-9._@-]{1,64}$/.test(caller)) throw new OperatorError('issue needs --caller NAME (letters, digits, . _ @ -; shown in logs and metrics)');
    const group = groupFlag(args, '--group');
    const { key, record } = newApiKey(caller, new Date(), group);
    await attempt('store the key hash', () => table.put(record));
    console.log(`issued key ${record.keyId} for ${caller}${group ? ` in group ${group}` : ''}:\n${key}\nStore it now: only its hash is kept.`);
  } else if (command === 'revoke') {
    const keyId = flagValue(args, '--key-id');
    if (!keyId) throw new OperatorError('revoke needs --key-id ID (see: npm run api-keys -- list)');
    await attempt(`revoke key ${keyId} (does it exist?)`, () => table.revoke(keyId));
    console.log(`revoked ${keyId}: refused within the server's cache time`);
  } else if (command === 'set-group') {
    const keyId = flagValue(args, '--key-id');
    const group = groupFlag(args, '--group');
    if (!keyId || !group) throw new OperatorError('set-group needs --key-id ID and --group GROUP');
    await attempt(`move key ${keyId} to group ${group} (does it exist?)`, () => table.setGroup(keyId, group));
    console.log(`key ${keyId} is in group ${group} (the door sees it within its key cache time)`);
  } else if (command === 'limits') {
    const target = limitTarget(args);
    const inGroup = groupFlag(args, '--in-group');
    if (inGroup && target.kind === 'group') throw new OperatorError('--in-group applies to a key or a principal, not to a group');
    if (args.includes('--clear')) {
      await attempt(`clear the limits of ${target.kind} ${target.name}`, () => limitTable.clear(target));
      console.log(`cleared ${target.kind} ${target.name}: config limits apply (within quotas.limitsCacheSeconds)`);
      return;
    }
    const limits = limitFlags(args);
    await attempt(`set the limits of ${target.kind} ${target.name}`, () => limitTable.put(target, limits, inGroup));
    console.log(`${target.kind} ${target.name}: ${describe(limits)}${inGroup ? `; group ${inGroup}` : ''} (applies within quotas.limitsCacheSeconds)`);
  } else if (command === 'show-limits') {
    await showLimits(config, limitTable, new DynamoCounterStore(quotaClient, names(config).quotaTable));
  } else {
    for (const r of await attempt('list keys', () => table.list())) console.log(`${r.keyId}  ${r.caller}  ${r.group ? `group ${r.group}  ` : ''}issued ${r.createdAt}${r.revokedAt ? `  revoked ${r.revokedAt}` : ''}`);
  }
}

runCli('api-keys', main);
