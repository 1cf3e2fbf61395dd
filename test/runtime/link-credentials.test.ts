import { execFile } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { promisify } from 'util';
import { IAMClient } from '@aws-sdk/client-iam';
import { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { STSClient } from '@aws-sdk/client-sts';
import OpenAI from 'openai';
import { BedrockInvoker, SecretCredentialSource } from '../../runtime/gateway/bedrock';
import { createGateway } from '../../runtime/gateway/gateway';
import { GatewayRuntimeConfigSchema } from '../../runtime/gateway/runtime-config';
import { startLocalGateway } from '../../runtime/local/local-gateway';
import { LinkClients, linkCredentials } from '../../runtime/operator/link-credentials';
import { AwsPartitionFake } from '../fakes/aws-partition-fake';
import { BedrockFake } from '../fakes/bedrock-fake';

const GLOBAL_ACCOUNT = '444455556666';
const CHINA_ACCOUNT = '111122223333';
const USER = 'cnllm-china-gateway';
const SECRET = 'cnllm/bedrock-credential';
const target = { globalAccount: GLOBAL_ACCOUNT, chinaAccount: CHINA_ACCOUNT, userName: USER, secretId: SECRET };
const operator = (keyId: string) => ({ accessKeyId: keyId, secretAccessKey: 'operator-secret' });

let globalSide: AwsPartitionFake;
let chinaSide: AwsPartitionFake;

beforeEach(async () => {
  globalSide = await new AwsPartitionFake('aws', GLOBAL_ACCOUNT).addKey('AKIAGLOBALOPERATOR', 'operator').start();
  chinaSide = await new AwsPartitionFake('aws-cn', CHINA_ACCOUNT).addKey('AKIACHINAOPERATOR', 'operator').start();
  chinaSide.secrets.set(SECRET, '{"linked":false,"placeholder":"random"}');
});
afterEach(async () => {
  await globalSide.stop();
  await chinaSide.stop();
});

/** Real SDK clients, each pointed at its partition's loopback stand-in. */
function clients(overrides: Partial<{ globalSts: string; chinaSts: string }> = {}): LinkClients {
  const g = { region: 'us-east-1', endpoint: globalSide.url, credentials: operator('AKIAGLOBALOPERATOR') };
  const c = { region: 'cn-northwest-1', endpoint: chinaSide.url, credentials: operator('AKIACHINAOPERATOR') };
  return {
    globalSts: new STSClient(overrides.globalSts === 'china' ? c : g),
    chinaSts: new STSClient(overrides.chinaSts === 'global' ? g : c),
    iam: new IAMClient(g),
    secrets: new SecretsManagerClient(c),
    stsWith: (credentials) => new STSClient({ ...g, credentials }),
  };
}

const stored = () => JSON.parse(chinaSide.secrets.get(SECRET)!);

describe('link-credentials', () => {
  test('first link: creates a key for the gateway user, stores it in the China secret, prints no secret', async () => {
    const lines: string[] = [];
    const result = await linkCredentials(target, clients(), { rotate: false, log: (l) => lines.push(l) });
    expect(globalSide.activeKeysOf(USER)).toEqual([result.accessKeyId]);
    expect(stored()).toEqual(expect.objectContaining({ accessKeyId: result.accessKeyId, userName: USER, globalAccount: GLOBAL_ACCOUNT }));
    const secret = stored().secretAccessKey;
    expect(secret).toEqual(globalSide.keys.get(result.accessKeyId)!.secret);
    const output = lines.join('\n');
    expect(output).not.toContain(secret);
    expect(output).not.toContain(result.accessKeyId);
    expect(output).toContain(`${result.accessKeyId.slice(0, 4)}****${result.accessKeyId.slice(-4)}`);
    expect(output).toContain(`global profile: arn:aws:iam::${GLOBAL_ACCOUNT}:user/operator`);
  });

  test('is idempotent: a second run without --rotate changes nothing', async () => {
    const first = await linkCredentials(target, clients(), { rotate: false, log: () => undefined });
    const lines: string[] = [];
    const second = await linkCredentials(target, clients(), { rotate: false, log: (l) => lines.push(l) });
    expect(second).toEqual({ accessKeyId: first.accessKeyId, retired: [] });
    expect(globalSide.activeKeysOf(USER)).toEqual([first.accessKeyId]);
    expect(lines.join('\n')).toMatch(/already linked.*Use --rotate/);
  });

  test('--rotate stores the new key before it retires the old one (no window without a working key)', async () => {
    const first = await linkCredentials(target, clients(), { rotate: false, log: () => undefined });
    globalSide.calls.length = 0;
    chinaSide.calls.length = 0;
    const rotated = await linkCredentials(target, clients(), { rotate: true, log: () => undefined });
    expect(rotated.retired).toEqual([first.accessKeyId]);
    expect(globalSide.activeKeysOf(USER)).toEqual([rotated.accessKeyId]);
    expect(stored().accessKeyId).toBe(rotated.accessKeyId);
    expect(chinaSide.calls).toContain('PutSecretValue');
    // Order on the global side: create, prove the new key (GetCallerIdentity), then delete the old one.
    const order = globalSide.calls.filter((c) => ['CreateAccessKey', 'DeleteAccessKey', 'GetCallerIdentity'].includes(c));
    expect(order.slice(order.indexOf('CreateAccessKey'))).toEqual(['CreateAccessKey', 'GetCallerIdentity', 'DeleteAccessKey']);
  });

  test('makes room when the user already has two keys, deleting only the one the gateway does not use', async () => {
    const first = await linkCredentials(target, clients(), { rotate: false, log: () => undefined });
    globalSide.keys.set('AKIASTRAYKEY00001', { id: 'AKIASTRAYKEY00001', secret: 's', user: USER, status: 'Active', created: new Date() });
    const rotated = await linkCredentials(target, clients(), { rotate: true, log: () => undefined });
    expect(globalSide.keys.has('AKIASTRAYKEY00001')).toBe(false);
    expect(rotated.retired).toEqual([first.accessKeyId]);
    expect(globalSide.activeKeysOf(USER)).toEqual([rotated.accessKeyId]);
  });

  test('refuses profiles in the wrong partition or account, before touching IAM', async () => {
    await expect(linkCredentials(target, clients({ globalSts: 'china' }), { rotate: false, log: () => undefined })).rejects.toThrow(
      /The global profile is arn:aws-cn:iam::111122223333:user\/operator, in partition "aws-cn"; it must be in "aws"/,
    );
    await expect(linkCredentials(target, clients({ chinaSts: 'global' }), { rotate: false, log: () => undefined })).rejects.toThrow(/The China profile is .* in partition "aws"; it must be in "aws-cn"/);
    await expect(linkCredentials({ ...target, globalAccount: '999988887777' }, clients(), { rotate: false, log: () => undefined })).rejects.toThrow(
      /The global profile is in account 444455556666, but the config names 999988887777 \(global.account\)/,
    );
    expect(globalSide.calls).not.toContain('CreateAccessKey');
  });

  test('says what it was doing when the China secret does not exist yet', async () => {
    chinaSide.secrets.clear();
    await expect(linkCredentials(target, clients(), { rotate: false, log: () => undefined })).rejects.toThrow(/Could not read cnllm\/bedrock-credential \(deploy the Gateway stack first\): ResourceNotFoundException/);
  });
});

describe('the gateway with a linked credential', () => {
  test('answers 503 until linked, then calls Bedrock with the key; after a rotation it reloads the secret by itself', async () => {
    const bedrock = await new BedrockFake().start();
    // Bedrock accepts exactly the gateway user's live keys, as IAM would.
    bedrock.acceptsKey = (id) => globalSide.activeKeysOf(USER).includes(id);
    const config = GatewayRuntimeConfigSchema.parse({ bedrockEndpoint: bedrock.url, credentialSecretId: chinaSide.secretArn(SECRET), models: [{ alias: 'nova-lite', modelId: 'us.amazon.nova-lite-v1:0' }], retry: { baseDelayMs: 1, maxDelayMs: 2 } });
    const secrets = new SecretsManagerClient({ region: 'cn-northwest-1', endpoint: chinaSide.url, credentials: operator('AKIACHINAOPERATOR') });
    const gateway = await startLocalGateway({ gateway: createGateway({ config, bedrock: new BedrockInvoker(config, new SecretCredentialSource(secrets, config.credentialSecretId!)), log: () => undefined }) });
    const openai = new OpenAI({ baseURL: `${gateway.url}/v1`, apiKey: 'iam', maxRetries: 0 });
    const ask = () => openai.chat.completions.create({ model: 'nova-lite', messages: [{ role: 'user', content: 'ping' }] });
    try {
      await expect(ask()).rejects.toMatchObject({ status: 503, error: { code: 'credential_not_linked' } });

      const first = await linkCredentials(target, clients(), { rotate: false, log: () => undefined });
      expect((await ask()).choices[0].message.content).toBe('You said: ping');
      expect(bedrock.requests.at(-1)!.accessKeyId).toBe(first.accessKeyId);

      const rotated = await linkCredentials(target, clients(), { rotate: true, log: () => undefined });
      expect((await ask()).choices[0].message.content).toBe('You said: ping');
      expect(bedrock.requests.slice(-2).map((r) => r.accessKeyId)).toEqual([first.accessKeyId, rotated.accessKeyId]);
    } finally {
      await gateway.close();
      await bedrock.stop();
    }
  });
});

describe('npm run link-credentials (the CLI)', () => {
  test('uses the two profiles, with endpoints from the shared AWS config, and exits 1 with a clear message on a wrong profile', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'cnllm-profiles-'));
    fs.writeFileSync(
      path.join(dir, 'config'),
      `[profile global]\nregion = us-east-1\nendpoint_url = ${globalSide.url}\n\n[profile china]\nregion = cn-northwest-1\nendpoint_url = ${chinaSide.url}\n`,
    );
    fs.writeFileSync(
      path.join(dir, 'credentials'),
      '[global]\naws_access_key_id = AKIAGLOBALOPERATOR\naws_secret_access_key = operator-secret\n\n[china]\naws_access_key_id = AKIACHINAOPERATOR\naws_secret_access_key = operator-secret\n',
    );
    const env = { PATH: process.env.PATH, HOME: dir, AWS_CONFIG_FILE: path.join(dir, 'config'), AWS_SHARED_CREDENTIALS_FILE: path.join(dir, 'credentials') };
    const run = (...args: string[]) =>
      promisify(execFile)(process.execPath, [require.resolve('ts-node/dist/bin.js'), '--transpile-only', 'scripts/link-credentials.ts', ...args], { cwd: path.join(__dirname, '..', '..'), env, timeout: 60000 });

    const ok = await run('--global-profile', 'global', '--china-profile', 'china');
    expect(ok.stdout).toContain('stored it in cnllm/bedrock-credential');
    const key = stored();
    expect(ok.stdout + ok.stderr).not.toContain(key.secretAccessKey);

    const wrong = await run('--global-profile', 'china', '--china-profile', 'china').catch((e) => e);
    expect(wrong.code).toBe(1);
    expect(wrong.stderr).toMatch(/^link-credentials: The global profile is arn:aws-cn:iam::111122223333:user\/operator, in partition "aws-cn"/m);
  });
});
