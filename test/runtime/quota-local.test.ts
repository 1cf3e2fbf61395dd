import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { BedrockFake } from '../fakes/bedrock-fake';
import { runCli, RunningCli, startCli } from '../helpers/cli';

/** Real clocks in child processes: start a short sequence only when the minute has time left, so no window turns mid-test. */
async function awayFromMinuteEnd() {
  const intoMinute = Date.now() % 60_000;
  if (intoMinute > 50_000) await new Promise((r) => setTimeout(r, 60_500 - intoMinute));
}

const chat = (url: string, headers: Record<string, string> = {}) =>
  fetch(`${url}/v1/chat/completions`, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: JSON.stringify({ model: 'nova-lite', messages: [{ role: 'user', content: 'hi' }] }) });

describe('local runners enforce the same quotas.* limits with an in-process counter store', () => {
  let bedrock: BedrockFake;
  let running: RunningCli | undefined;
  beforeAll(async () => {
    bedrock = await new BedrockFake().start();
  });
  afterEach(async () => {
    await running?.stop();
    running = undefined;
  });
  afterAll(() => bedrock.stop());

  test('gateway:local -c quotas.default.requestsPerMinute=2: two answers with x-ratelimit headers, then 429 rate_limit_exceeded', async () => {
    running = await startCli('scripts/gateway-local.ts', ['--port', '0', '--bedrock-endpoint', bedrock.url, '-c', 'quotas.default.requestsPerMinute=2'], /try: curl/);
    expect(running.stderr()).toContain('quotas: limits of quotas.* enforced, counted in this process');
    const url = /gateway on (http:\/\/[0-9.:]+)/.exec(running.stderr())![1];
    await awayFromMinuteEnd();
    const answers = [await chat(url), await chat(url), await chat(url)];
    expect(answers.map((a) => a.status)).toEqual([200, 200, 429]);
    expect(answers.map((a) => a.headers.get('x-ratelimit-remaining-requests'))).toEqual(['1', '0', '0']);
    expect(answers[0].headers.get('x-ratelimit-limit-requests')).toBe('2');
    expect(Number(answers[2].headers.get('retry-after'))).toBeGreaterThan(0);
    expect(((await answers[2].json()) as { error: { code: string; type: string } }).error).toEqual(expect.objectContaining({ code: 'rate_limit_exceeded', type: 'requests' }));
  });

  test('door:local: a key issued into a group gets that group\'s limits; keys of other groups do not share them', async () => {
    const keysFile = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'cnllm-door-q-')), 'keys.json');
    const issue = async (group?: string) => /^(cnllm_\S+)$/m.exec((await runCli('scripts/door-local.ts', ['issue-key', '--caller', 'dev', ...(group ? ['--group', group] : []), '--api-keys-file', keysFile])).stdout)![1];
    const teamKey = await issue('team-x');
    const otherKey = await issue();
    running = await startCli('scripts/door-local.ts', ['--port', '0', '--bedrock-endpoint', bedrock.url, '--api-keys-file', keysFile, '-c', 'quotas.groups={"team-x":{"requestsPerMinute":1}}'], /node -e/);
    const url = /streaming door on (http:\/\/[0-9.:]+)/.exec(running.stderr())![1];
    await awayFromMinuteEnd();
    expect((await chat(url, { authorization: `Bearer ${teamKey}` })).status).toBe(200);
    const refused = await chat(url, { authorization: `Bearer ${teamKey}` });
    expect(refused.status).toBe(429);
    expect(((await refused.json()) as { error: { message: string } }).error.message).toMatch(/group team-x/);
    expect((await chat(url, { authorization: `Bearer ${otherKey}` })).status).toBe(200);
  });
});
