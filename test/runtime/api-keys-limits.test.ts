import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { runCli } from '../helpers/cli';
import { ApiKeyAuthenticator, ApiKeyTable } from '../../runtime/server/api-keys';
import { DynamoCounterStore } from '../../runtime/quota/dynamo-counter-store';
import { Quota } from '../../runtime/quota/quota';
import { QuotaRuntimeConfigSchema } from '../../runtime/quota/quota-config';
import { DynamoDbLocal } from '../fakes/dynamodb-local';

describe('npm run api-keys: groups and limits (quotas)', () => {
  let dynamo: DynamoDbLocal;
  let run: (...args: string[]) => Promise<{ stdout: string; stderr: string }>;
  beforeAll(async () => {
    dynamo = await (await (await new DynamoDbLocal().start()).createApiKeyTable('cnllm-api-keys')).createQuotaTable('cnllm-quotas');
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'cnllm-profiles-'));
    fs.writeFileSync(path.join(dir, 'config'), `[profile china]\nregion = cn-northwest-1\nendpoint_url = ${dynamo.url}\n`);
    fs.writeFileSync(path.join(dir, 'credentials'), '[china]\naws_access_key_id = AKIACHINA\naws_secret_access_key = s\n');
    run = (...args: string[]) =>
      runCli('scripts/api-keys.ts', [...args, '-c', 'quotas.groups={"team-a":{"monthlyTokens":1000}}'], { PATH: process.env.PATH, HOME: dir, AWS_CONFIG_FILE: path.join(dir, 'config'), AWS_SHARED_CREDENTIALS_FILE: path.join(dir, 'credentials') });
  });
  afterAll(() => dynamo.stop());

  test('a key issued into a group authenticates with its id and group; set-group moves it; list shows the group', async () => {
    const issued = await run('issue', '--caller', 'search', '--group', 'team-a');
    expect(issued.stdout).toMatch(/issued key \w+ for search in group team-a/);
    const key = /^(cnllm_\S+)$/m.exec(issued.stdout)![1];
    const keyId = key.split('_')[1];
    const auth = new ApiKeyAuthenticator(new ApiKeyTable(dynamo.client(), 'cnllm-api-keys'), 0);
    expect(await auth.authenticate(key)).toEqual({ caller: 'search', identity: keyId, group: 'team-a' });
    await run('set-group', '--key-id', keyId, '--group', 'team-b');
    expect(await auth.authenticate(key)).toEqual({ caller: 'search', identity: keyId, group: 'team-b' });
    expect((await run('list')).stdout).toContain(`${keyId}  search  group team-b  issued`);
    const bad = await run('issue', '--caller', 'x', '--group', 'Team B').catch((e) => e);
    expect(bad.code).toBe(1);
    expect(bad.stderr).toMatch(/--group Team B: a group name is 1-40 lower-case letters/);
  });

  test('limits for a key, a group and a principal go to the table, apply in the gateway, show in show-limits, and clear', async () => {
    await run('limits', '--group', 'team-a', '--requests-per-minute', '2', '--monthly-budget', '12.5');
    await run('limits', '--key-id', 'abc123abc123', '--tokens-per-minute', '5000');
    // An assumed-role session is stored as its role.
    const principal = await run('limits', '--principal', 'arn:aws-cn:sts::111122223333:assumed-role/team-a-ci/job-7', '--requests-per-minute', '7', '--in-group', 'team-a');
    expect(principal.stdout).toContain('identity arn:aws-cn:iam::111122223333:role/team-a-ci: requestsPerMinute 7; group team-a');

    const shown = (await run('show-limits')).stdout;
    expect(shown).toMatch(/team-a: config monthlyTokens 1000; table requestsPerMinute 2, monthlyBudget 12.5; used 0 tokens/);
    expect(shown).toContain('abc123abc123: tokensPerMinute 5000');
    expect(shown).toContain('arn:aws-cn:iam::111122223333:role/team-a-ci: requestsPerMinute 7; group team-a');

    // What the front doors do with them: the session is in team-a (from the table), with its own 7 and the group's 2.
    const quota = new Quota(QuotaRuntimeConfigSchema.parse({ enforce: true, limitsCacheSeconds: 0 }), { store: new DynamoCounterStore(dynamo.jsonClient(), 'cnllm-quotas'), log: () => undefined });
    const admission = await quota.admit({ method: 'POST', path: '/v1/chat/completions', headers: {}, body: '{}', caller: 'arn:aws-cn:sts::111122223333:assumed-role/team-a-ci/job-8', requestId: 'r' });
    expect(admission.group).toBe('team-a');
    expect(admission.headers['x-ratelimit-limit-requests']).toBe('2');

    await run('limits', '--group', 'team-a', '--clear');
    expect((await run('show-limits')).stdout).toMatch(/team-a: config monthlyTokens 1000; table none/);
    const bad = await run('limits', '--group', 'team-a', '--requests-per-minute', '1.5').catch((e) => e);
    expect(bad.stderr).toMatch(/--requests-per-minute 1.5: must be a positive whole number/);
    const both = await run('limits', '--group', 'team-a', '--key-id', 'x').catch((e) => e);
    expect(both.stderr).toMatch(/exactly one of --key-id ID, --group GROUP, --principal ARN/);
  });
});
