import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { runCli } from '../helpers/cli';
import { ApiKeyAuthenticator, ApiKeyTable } from '../../runtime/server/api-keys';
import { DynamoDbLocal } from '../fakes/dynamodb-local';

describe('npm run api-keys (issue, list, revoke)', () => {
  test('issues a key that authenticates, lists it without the key, and revokes it', async () => {
    const dynamo = await (await new DynamoDbLocal().start()).createApiKeyTable('cnllm-api-keys');
    try {
      const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'cnllm-profiles-'));
      fs.writeFileSync(path.join(dir, 'config'), `[profile china]\nregion = cn-northwest-1\nendpoint_url = ${dynamo.url}\n`);
      fs.writeFileSync(path.join(dir, 'credentials'), '[china]\naws_access_key_id = AKIACHINA\naws_secret_access_key = s\n');
      const run = (...args: string[]) =>
        runCli('scripts/api-keys.ts', args, { PATH: process.env.PATH, HOME: dir, AWS_CONFIG_FILE: path.join(dir, 'config'), AWS_SHARED_CREDENTIALS_FILE: path.join(dir, 'credentials') });
      const issued = await run('issue', '--caller', 'team-search');
      const key = /^(cnllm_\S+)$/m.exec(issued.stdout)![1];
      const keyId = key.split('_')[1];
      const auth = new ApiKeyAuthenticator(new ApiKeyTable(dynamo.client(), 'cnllm-api-keys'), 0);
      expect(await auth.authenticate(key)).toEqual({ caller: 'team-search', identity: keyId });

      const listed = await run('list');
      expect(listed.stdout).toContain(`${keyId}  team-search  issued`);
      expect(listed.stdout).not.toContain(key);

      await run('revoke', '--key-id', keyId);
      expect(await auth.authenticate(key)).toBeUndefined();
      const missing = await run('revoke', '--key-id', 'nosuchkey000').catch((e) => e);
      expect(missing.code).toBe(1);
      expect(missing.stderr).toMatch(/^api-keys: Could not revoke key nosuchkey000 \(does it exist\?\): ConditionalCheckFailedException/m);
    } finally {
      await dynamo.stop();
    }
  });
});

test('list follows the table past one Scan page (1 MB): no key goes unlisted', async () => {
  const dynamo = await (await new DynamoDbLocal().start()).createApiKeyTable('cnllm-api-keys');
  try {
    const table = new ApiKeyTable(dynamo.client(), 'cnllm-api-keys');
    // Long caller names make a page fill up after a few hundred keys.
    const caller = 'x'.repeat(4000);
    for (let i = 0; i < 300; i += 50) await Promise.all(Array.from({ length: 50 }, (_, j) => table.put({ keyId: `k${String(i + j).padStart(11, '0')}`, hash: 'h', caller: `${caller}${i + j}`, createdAt: 'now' })));
    expect(await table.list()).toHaveLength(300);
  } finally {
    await dynamo.stop();
  }
}, 60_000);
