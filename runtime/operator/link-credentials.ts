import { CreateAccessKeyCommand, DeleteAccessKeyCommand, IAMClient, ListAccessKeysCommand } from '@aws-sdk/client-iam';
import { GetSecretValueCommand, PutSecretValueCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { GetCallerIdentityCommand, STSClient } from '@aws-sdk/client-sts';
import type { AwsCredentialIdentity } from '@smithy/types';
import { OperatorError, attempt } from './operator-error';

export interface LinkTarget {
  readonly globalAccount: string;
  readonly chinaAccount: string;
  /** The gateway's IAM user in the global account. */
  readonly userName: string;
  /** The China-side secret the gateway reads. */
  readonly secretId: string;
}

export interface LinkClients {
  readonly globalSts: STSClient;
  readonly chinaSts: STSClient;
  readonly iam: IAMClient;
  readonly secrets: SecretsManagerClient;
  /** STS of the global partition signed with the given key: proves a new key works before the old one goes. */
  readonly stsWith: (credentials: AwsCredentialIdentity) => STSClient;
}

export interface LinkOptions {
  readonly rotate: boolean;
  /** How long to keep proving a fresh key (IAM keys take seconds to propagate). */
  readonly verifyTimeoutMs?: number;
  readonly log?: (line: string) => void;
  readonly sleep?: (ms: number) => Promise<void>;
}

/** AKIA****WXYZ: enough to tell keys apart in a log, useless to an attacker. */
export const maskKeyId = (id: string) => `${id.slice(0, 4)}****${id.slice(-4)}`;

/**
 * Hands the global gateway user's access key to the China side. Proves with STS that each profile is
 * in the expected partition and account, creates a key, stores it in the China secret, and with
 * `rotate` retires the previous key only after the new one is stored and works. Never logs secret values.
 */
export async function linkCredentials(target: LinkTarget, clients: LinkClients, options: LinkOptions): Promise<{ accessKeyId: string; retired: string[] }> {
  const log = options.log ?? ((line: string) => console.log(line));
  const sleep = options.sleep ?? ((ms: number) => new Promise((r) => setTimeout(r, ms)));

  const globalId = await identify(clients.globalSts, 'global');
  expectPartition(globalId, 'global', 'aws', target.globalAccount);
  const chinaId = await identify(clients.chinaSts, 'China');
  expectPartition(chinaId, 'China', 'aws-cn', target.chinaAccount);
  log(`global profile: ${globalId.arn}`);
  log(`China profile:  ${chinaId.arn}`);

  const keys = (await attempt('list the gateway user\'s access keys', () => clients.iam.send(new ListAccessKeysCommand({ UserName: target.userName })))).AccessKeyMetadata ?? [];
  const stored = await storedKeyId(clients.secrets, target.secretId);
  const storedIsLive = stored !== undefined && keys.some((k) => k.AccessKeyId === stored && k.Status === 'Active');

  if (storedIsLive && !options.rotate) {
    log(`already linked: ${target.secretId} holds active key ${maskKeyId(stored!)} of ${target.userName}. Use --rotate to replace it.`);
    return { accessKeyId: stored!, retired: [] };
  }

  // IAM allows two keys per user: make room by removing keys the gateway does not use.
  const unused = keys.filter((k) => k.AccessKeyId !== stored).map((k) => k.AccessKeyId!);
  if (keys.length >= 2) {
    if (unused.length === 0) throw new OperatorError(`${target.userName} already has two keys; delete one in IAM first.`);
    for (const id of unused) {
      await attempt('delete an unused access key', () => clients.iam.send(new DeleteAccessKeyCommand({ UserName: target.userName, AccessKeyId: id })));
      log(`deleted unused key ${maskKeyId(id)}`);
    }
  }

  const created = (await attempt('create an access key', () => clients.iam.send(new CreateAccessKeyCommand({ UserName: target.userName })))).AccessKey!;
  const fresh = { accessKeyId: created.AccessKeyId!, secretAccessKey: created.SecretAccessKey! };
  log(`created key ${maskKeyId(fresh.accessKeyId)} for ${target.userName}`);

  await attempt('store the key in the China secret', () =>
    clients.secrets.send(
      new PutSecretValueCommand({
        SecretId: target.secretId,
        SecretString: JSON.stringify({ ...fresh, userName: target.userName, globalAccount: target.globalAccount, linkedAt: new Date().toISOString() }),
      }),
    ),
  );
  log(`stored it in ${target.secretId} (${chinaId.account}); the gateway picks it up on its next credential reload`);

  await proveKeyWorks(clients.stsWith(fresh), options.verifyTimeoutMs ?? 60000, sleep);
  log('the new key authenticates with the global partition');

  const retired: string[] = [];
  if (options.rotate && stored !== undefined && keys.some((k) => k.AccessKeyId === stored)) {
    await attempt('delete the previous key', () => clients.iam.send(new DeleteAccessKeyCommand({ UserName: target.userName, AccessKeyId: stored })));
    retired.push(stored);
    log(`retired previous key ${maskKeyId(stored)}: a gateway still holding it reloads the secret on its next call`);
  }
  return { accessKeyId: fresh.accessKeyId, retired };
}

async function identify(sts: STSClient, which: string): Promise<{ arn: string; account: string }> {
  const id = await attempt(`ask STS who the ${which} profile is`, () => sts.send(new GetCallerIdentityCommand({})));
  return { arn: id.Arn ?? '', account: id.Account ?? '' };
}

function expectPartition(id: { arn: string; account: string }, which: string, partition: 'aws' | 'aws-cn', account: string) {
  const actual = id.arn.split(':')[1];
  if (actual !== partition) {
    throw new OperatorError(`The ${which} profile is ${id.arn}, in partition "${actual}"; it must be in "${partition}". Pass the right profile with --${which === 'global' ? 'global' : 'china'}-profile.`);
  }
  if (id.account !== account) {
    throw new OperatorError(`The ${which} profile is in account ${id.account}, but the config names ${account} (${which === 'global' ? 'global.account' : 'china.account'}). Use the matching profile or fix the config.`);
  }
}

async function storedKeyId(secrets: SecretsManagerClient, secretId: string): Promise<string | undefined> {
  const value = await attempt(`read ${secretId} (deploy the Gateway stack first)`, () => secrets.send(new GetSecretValueCommand({ SecretId: secretId })));
  try {
    const parsed = JSON.parse(value.SecretString ?? '{}') as { accessKeyId?: unknown };
    return typeof parsed.accessKeyId === 'string' ? parsed.accessKeyId : undefined;
  } catch {
    return undefined;
  }
}

async function proveKeyWorks(sts: STSClient, timeoutMs: number, sleep: (ms: number) => Promise<void>) {
  const deadline = Date.now() + timeoutMs;
  for (let wait = 1000; ; wait = Math.min(wait * 2, 8000)) {
    try {
      await sts.send(new GetCallerIdentityCommand({}));
      return;
    } catch (e) {
      if (Date.now() + wait > deadline) {
        throw new OperatorError(`The new key was stored but does not authenticate yet (${(e as Error).name}). The previous key was kept; run again with --rotate later.`);
      }
      await sleep(wait);
    }
  }
}

