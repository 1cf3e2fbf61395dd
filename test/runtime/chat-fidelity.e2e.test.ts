import { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import OpenAI from 'openai';
import { loadConfig } from '../../lib/config/load';
import { gatewayRuntimeSettings } from '../../lib/gateway/runtime-settings';
import { BedrockInvoker } from '../../runtime/gateway/bedrock';
import { createGateway } from '../../runtime/gateway/gateway';
import { OpenAiUpstream } from '../../runtime/gateway/openai-upstream';
import { GatewayRuntimeConfigSchema } from '../../runtime/gateway/runtime-config';
import { startLocalGateway } from '../../runtime/local/local-gateway';
import { startStreamingServer } from '../../runtime/server/server';
import { AwsPartitionFake } from '../fakes/aws-partition-fake';
import { BedrockFake } from '../fakes/bedrock-fake';
import { OpenAiUpstreamFake } from '../fakes/openai-upstream-fake';

/**
 * Structured outputs, reasoning and prompt caching, end to end: the official openai client through
 * both front doors (the Lambda host as API Gateway's buffered proxy integration calls it, and the
 * streaming door) to every kind of route (Bedrock, vLLM, a provider), with the runtime settings
 * derived from a kit config the way the stacks derive them.
 */

const CLAUDE_ID = 'anthropic.claude-sonnet-4-5-20250929-v1:0';

let bedrock: BedrockFake;
let vllm: OpenAiUpstreamFake;
let provider: OpenAiUpstreamFake;
let secrets: AwsPartitionFake;
let logs: Record<string, unknown>[];
let closers: (() => Promise<void>)[];

type Door = 'lambda' | 'door';

/** The runtime settings as the Gateway stack derives them from this kit config, pointed at the stand-ins. */
function runtimeConfig() {
  const kit = loadConfig({
    'bedrock.models': JSON.stringify([
      'nova-pro',
      'nova-2-lite',
      { alias: 'claude-sonnet', modelId: CLAUDE_ID, destinationRegions: ['us-east-1', 'us-east-2', 'us-west-2'], structuredOutput: 'native', cacheTools: true },
    ]),
    'bedrock.promptCaching': 'nova-pro,claude-sonnet',
    'routing.providers': JSON.stringify([{ name: 'dashscope', baseUrl: `${provider.url}/v1`, models: [{ alias: 'qwen-max', model: 'qwen-max-latest' }] }]),
    'routing.registerVllm': 'false',
    'routing.fallbacks': JSON.stringify({ 'nova-pro': ['qwen-max'] }),
  });
  const settings = gatewayRuntimeSettings(kit, { upstreamTimeoutSeconds: 10, providerSecretIds: { dashscope: 'cnllm/dashscope-key' } });
  return GatewayRuntimeConfigSchema.parse({
    ...settings,
    bedrockEndpoint: bedrock.url,
    // A self-hosted route as the registry would add it.
    models: [...settings.models!, { alias: 'qwen-7b', modelId: 'qwen2.5-7b-instruct', route: 'vllm-qwen' }],
    upstreams: [...settings.upstreams!, { name: 'vllm-qwen', kind: 'vllm', baseUrl: `${vllm.url}/v1`, apiKeySecretId: 'cnllm/vllm-key', maxAttempts: 1 }],
    retry: { baseDelayMs: 1, maxDelayMs: 2 },
  });
}

async function openDoor(door: Door): Promise<OpenAI> {
  const config = runtimeConfig();
  const secretsClient = new SecretsManagerClient({ region: 'cn-northwest-1', endpoint: secrets.url, credentials: { accessKeyId: 'AKIACHINA', secretAccessKey: 's' } });
  const gateway = createGateway({
    config,
    bedrock: new BedrockInvoker(config, { get: async () => ({ accessKeyId: 'AKIAGLOBAL', secretAccessKey: 's' }), invalidate: () => undefined }),
    upstreams: new Map(config.upstreams.map((u) => [u.name, new OpenAiUpstream(u, secretsClient)])),
    log: (l) => logs.push(l),
  });
  if (door === 'lambda') {
    // API Gateway's REST proxy integration in front of the Lambda: a stream arrives as one SSE body.
    const host = await startLocalGateway({ gateway, mode: 'buffered' });
    closers.push(() => host.close());
    return new OpenAI({ baseURL: `${host.url}/v1`, apiKey: 'iam-signs-in-aws', maxRetries: 0 });
  }
  const server = await startStreamingServer({
    gateway,
    authenticators: [{ authenticate: async (bearer) => (bearer === 'sk-team-a' ? { caller: 'team-a' } : undefined) }],
    port: 0,
    host: '127.0.0.1',
    log: () => undefined,
  });
  closers.push(() => server.drain());
  return new OpenAI({ baseURL: `${server.url}/v1`, apiKey: 'sk-team-a', maxRetries: 0 });
}

beforeEach(async () => {
  logs = [];
  closers = [];
  bedrock = await new BedrockFake().start();
  vllm = await new OpenAiUpstreamFake('vllm', 'vllm-key-123').start();
  provider = await new OpenAiUpstreamFake('dashscope', 'sk-dashscope-456').start();
  secrets = await new AwsPartitionFake('aws-cn', '111122223333').addKey('AKIACHINA', 'gateway').start();
  secrets.secrets.set('cnllm/vllm-key', 'vllm-key-123');
  secrets.secrets.set('cnllm/dashscope-key', JSON.stringify({ apiKey: 'sk-dashscope-456' }));
});
afterEach(async () => {
  for (const close of closers) await close();
  await Promise.all([bedrock.stop(), vllm.stop(), provider.stop(), secrets.stop()]);
});

const WEATHER = {
  type: 'object',
  properties: { city: { type: 'string' }, temp_c: { type: 'integer' } },
  required: ['city', 'temp_c'],
  additionalProperties: false,
};
const weatherFormat = (strict = true) => ({ type: 'json_schema' as const, json_schema: { name: 'weather', description: 'Weather report', schema: WEATHER, strict } });
const user = (content: string) => [{ role: 'user' as const, content }];

/** Every chunk of a stream, as the client parsed it (raw fields such as reasoning_content kept). */
async function chunksOf(stream: unknown): Promise<Record<string, any>[]> {
  const chunks: Record<string, any>[] = [];
  for await (const chunk of stream as AsyncIterable<Record<string, any>>) chunks.push(chunk);
  return chunks;
}
const contentOf = (chunks: Record<string, any>[]) => chunks.map((c) => c.choices[0]?.delta?.content ?? '').join('');
const reasoningOf = (chunks: Record<string, any>[]) => chunks.map((c) => c.choices[0]?.delta?.reasoning_content ?? '').join('');
/** The error a stream raised part-way (an SSE error event), or undefined. */
async function streamError(stream: unknown): Promise<any> {
  return (async () => {
    for await (const _ of stream as AsyncIterable<unknown>) void _;
  })().then(
    () => undefined,
    (e) => e,
  );
}

describe.each<[Door, string]>([
  ['lambda', 'local'],
  ['door', 'team-a'],
])('through the %s front door', (door, caller) => {
  let client: OpenAI;
  beforeEach(async () => {
    client = await openDoor(door);
  });

  describe('structured outputs', () => {
    test('Bedrock (Nova): json_schema strict is a forced tool, answered as message content that parses against the schema, streamed too', async () => {
      bedrock.push({ kind: 'reply', text: 'Let me fill that in.', toolUse: { name: 'weather', input: { city: 'Yinchuan', temp_c: 21 } } });
      const res = await client.chat.completions.create({ model: 'nova-pro', messages: user('weather in Yinchuan?'), response_format: weatherFormat() });
      expect(JSON.parse(res.choices[0].message.content!)).toEqual({ city: 'Yinchuan', temp_c: 21 });
      expect(res.choices[0]).toEqual(expect.objectContaining({ finish_reason: 'stop' }));
      expect(res.choices[0].message.tool_calls).toBeUndefined();
      expect(bedrock.requests[0].body).toEqual(
        expect.objectContaining({
          toolConfig: {
            tools: [{ toolSpec: { name: 'weather', description: expect.stringMatching(/^Weather report Reply by calling this tool/), inputSchema: { json: WEATHER } } }],
            toolChoice: { tool: { name: 'weather' } },
          },
        }),
      );
      expect(bedrock.requests[0].body.outputConfig).toBeUndefined();

      bedrock.push({ kind: 'reply', toolUse: { name: 'weather', input: { city: '银川', temp_c: -3 } } });
      const chunks = await chunksOf(await client.chat.completions.create({ model: 'nova-pro', messages: user('weather?'), response_format: weatherFormat(), stream: true }));
      expect(JSON.parse(contentOf(chunks))).toEqual({ city: '银川', temp_c: -3 });
      expect(chunks.some((c) => c.choices[0]?.delta?.tool_calls)).toBe(false);
      expect(chunks.at(-1)!.choices[0].finish_reason).toBe('stop');
      expect(logs.at(-1)).toEqual(expect.objectContaining({ caller, servedBy: 'bedrock', status: 200 }));
    });

    test('Bedrock: an answer that does not match a strict schema is a 502 invalid_structured_output, streamed or not; non-strict only has to parse', async () => {
      bedrock.push({ kind: 'reply', toolUse: { name: 'weather', input: { city: 'Yinchuan', temp_c: 'warm' } } });
      const error = await client.chat.completions.create({ model: 'nova-pro', messages: user('weather?'), response_format: weatherFormat() }).catch((e) => e);
      expect(error).toMatchObject({ status: 502, error: { code: 'invalid_structured_output', message: expect.stringContaining('does not match the schema "weather" (strict): temp_c') } });
      expect(logs.at(-1)).toEqual(expect.objectContaining({ status: 502, error: 'invalid_structured_output' }));

      bedrock.push({ kind: 'reply', toolUse: { name: 'weather', input: { city: 'Yinchuan', temp_c: 'warm' } } });
      const streamed = await streamError(await client.chat.completions.create({ model: 'nova-pro', messages: user('weather?'), response_format: weatherFormat(), stream: true }));
      expect(streamed).toBeInstanceOf(OpenAI.APIError);
      expect(String(streamed.message)).toContain('does not match the schema "weather"');
      expect(logs.at(-1)).toEqual(expect.objectContaining({ error: 'invalid_structured_output' }));

      bedrock.push({ kind: 'reply', toolUse: { name: 'weather', input: { city: 'Yinchuan', temp_c: 'warm' } } });
      const loose = await client.chat.completions.create({ model: 'nova-pro', messages: user('weather?'), response_format: weatherFormat(false) });
      expect(JSON.parse(loose.choices[0].message.content!)).toEqual({ city: 'Yinchuan', temp_c: 'warm' });
    });

    test('Bedrock: json_object is a forced tool with an open object schema', async () => {
      // The stand-in answers a forced tool as Bedrock does: with that tool.
      const res = await client.chat.completions.create({ model: 'nova-pro', messages: user('answer in JSON'), response_format: { type: 'json_object' } });
      expect(JSON.parse(res.choices[0].message.content!)).toEqual({ said: 'answer in JSON' });
      expect(bedrock.requests[0].body.toolConfig).toEqual({
        tools: [{ toolSpec: expect.objectContaining({ name: 'json_object', inputSchema: { json: { type: 'object', additionalProperties: true } } }) }],
        toolChoice: { tool: { name: 'json_object' } },
      });
    });

    test('Bedrock (structured outputs): json_schema goes as outputConfig.textFormat; text that is not JSON is a 502', async () => {
      bedrock.push({ kind: 'reply', text: '{"city": "Zhongwei", "temp_c": 18}' });
      const res = await client.chat.completions.create({ model: 'claude-sonnet', messages: user('weather?'), response_format: weatherFormat() });
      expect(JSON.parse(res.choices[0].message.content!)).toEqual({ city: 'Zhongwei', temp_c: 18 });
      // Not strict: any JSON passes (the stand-in's default structured answer).
      const loose = await client.chat.completions.create({ model: 'claude-sonnet', messages: user('weather?'), response_format: weatherFormat(false) });
      expect(JSON.parse(loose.choices[0].message.content!)).toEqual({ said: 'weather?' });
      expect(bedrock.requests[0].modelId).toBe(`us.${CLAUDE_ID}`);
      expect(bedrock.requests[0].body.outputConfig).toEqual({ textFormat: { type: 'json_schema', structure: { jsonSchema: { schema: JSON.stringify(WEATHER), name: 'weather', description: 'Weather report' } } } });
      expect(bedrock.requests[0].body.toolConfig).toBeUndefined();

      bedrock.push({ kind: 'reply', text: 'Sure! Here it is: {"city": "Zhongwei"}' });
      const chunks = client.chat.completions.create({ model: 'claude-sonnet', messages: user('weather?'), response_format: weatherFormat(), stream: true });
      const error = await streamError(await chunks);
      expect(String(error?.message)).toContain("The model's answer is not valid JSON");
    });

    test('response_format with tools: refused where it needs the forced tool (400 naming both), served where Bedrock has structured outputs', async () => {
      const tools = [{ type: 'function' as const, function: { name: 'lookup', parameters: { type: 'object', properties: {} } } }];
      const error = await client.chat.completions.create({ model: 'nova-pro', messages: user('x'), response_format: weatherFormat(), tools }).catch((e) => e);
      expect(error).toMatchObject({ status: 400, error: { type: 'invalid_request_error', param: 'response_format', code: 'unsupported_combination' } });
      expect(error.error.message).toMatch(/"response_format" \(json_schema\) and "tools" cannot be combined on the Bedrock route of "nova-pro"/);
      expect(bedrock.requests).toHaveLength(0);

      bedrock.push({ kind: 'reply', text: '{"city": "Guyuan", "temp_c": 9}' });
      const res = await client.chat.completions.create({ model: 'claude-sonnet', messages: user('x'), response_format: weatherFormat(), tools });
      expect(JSON.parse(res.choices[0].message.content!)).toEqual({ city: 'Guyuan', temp_c: 9 });
      expect(bedrock.requests[0].body.toolConfig.tools[0].toolSpec.name).toBe('lookup');
    });

    test.each([
      ['vLLM', 'qwen-7b', () => vllm],
      ['the provider', 'qwen-max', () => provider],
    ])('%s gets response_format as sent (guided decoding) and its JSON comes back, streamed too', async (_name, alias, upstream) => {
      const res = await client.chat.completions.create({ model: alias, messages: user('hi'), response_format: weatherFormat() });
      expect(JSON.parse(res.choices[0].message.content!)).toEqual({ upstream: upstream().name, said: 'hi' });
      expect(upstream().requests[0].body.response_format).toEqual(weatherFormat());
      const chunks = await chunksOf(await client.chat.completions.create({ model: alias, messages: user('hi'), response_format: { type: 'json_object' }, stream: true }));
      expect(JSON.parse(contentOf(chunks))).toEqual({ upstream: upstream().name, said: 'hi' });
      expect(upstream().requests[1].body.response_format).toEqual({ type: 'json_object' });
    });

    test('residency: a china-only request falls back from Bedrock to the in-China provider with response_format as sent', async () => {
      const res = await client.chat.completions.create({ model: 'nova-pro', messages: user('hi'), response_format: weatherFormat() }, { headers: { 'x-cnllm-residency': 'china-only' } });
      expect(JSON.parse(res.choices[0].message.content!)).toEqual({ upstream: 'dashscope', said: 'hi' });
      expect(bedrock.requests).toHaveLength(0);
      expect(logs.at(-1)).toEqual(expect.objectContaining({ servedBy: 'dashscope', status: 200 }));
    });
  });

  describe('reasoning', () => {
    test('Bedrock (Nova 2 Lite): reasoning_effort becomes reasoningConfig; the reasoning comes back as reasoning_content, apart from content, streamed too', async () => {
      bedrock.push({ kind: 'reply', text: 'It is 42.', reasoning: { text: 'Six times seven is 42.', signature: 'c2lnbmF0dXJl' } });
      const res = await client.chat.completions.create({ model: 'nova-2-lite', messages: user('6*7?'), reasoning_effort: 'medium' });
      expect(res.choices[0].message).toEqual(expect.objectContaining({ content: 'It is 42.', reasoning_content: 'Six times seven is 42.' }));
      expect(bedrock.requests[0].body.additionalModelRequestFields).toEqual({ reasoningConfig: { type: 'enabled', maxReasoningEffort: 'medium' } });

      bedrock.push({ kind: 'reply', text: 'It is 42.', reasoning: { text: 'Six times seven is 42.', signature: 'c2lnbmF0dXJl' } });
      const chunks = await chunksOf(await client.chat.completions.create({ model: 'nova-2-lite', messages: user('6*7?'), reasoning_effort: 'high', stream: true, stream_options: { include_usage: true } }));
      expect(reasoningOf(chunks)).toBe('Six times seven is 42.');
      expect(contentOf(chunks)).toBe('It is 42.');
      // Reasoning deltas come before the answer and never carry content.
      const firstContent = chunks.findIndex((c) => c.choices[0]?.delta?.content);
      const lastReasoning = chunks.map((c) => Boolean(c.choices[0]?.delta?.reasoning_content)).lastIndexOf(true);
      expect(lastReasoning).toBeGreaterThan(-1);
      expect(lastReasoning).toBeLessThan(firstContent);
      expect(chunks.filter((c) => c.choices[0]?.delta?.reasoning_content && c.choices[0].delta.content)).toHaveLength(0);
      expect(bedrock.requests[1].body.additionalModelRequestFields).toEqual({ reasoningConfig: { type: 'enabled', maxReasoningEffort: 'high' } });
      // Converse counts reasoning inside outputTokens: metered as output, no reasoning count made up.
      expect(chunks.at(-1)!.usage.completion_tokens).toBe(3 + 5);
      expect(logs.at(-1)).toEqual(expect.objectContaining({ caller, outputTokens: 8 }));
      expect(logs.at(-1)).not.toHaveProperty('reasoningTokens');
    });

    test('Bedrock: minimal is served at low, none leaves reasoning off, an effort Converse lacks is a 400', async () => {
      await client.chat.completions.create({ model: 'nova-2-lite', messages: user('x'), reasoning_effort: 'minimal' });
      expect(bedrock.requests[0].body.additionalModelRequestFields).toEqual({ reasoningConfig: { type: 'enabled', maxReasoningEffort: 'low' } });
      await client.chat.completions.create({ model: 'nova-2-lite', messages: user('x'), reasoning_effort: 'none' });
      expect(bedrock.requests[1].body.additionalModelRequestFields).toBeUndefined();
      const error = await client.chat.completions.create({ model: 'nova-2-lite', messages: user('x'), reasoning_effort: 'xhigh' }).catch((e) => e);
      expect(error).toMatchObject({ status: 400, error: { param: 'reasoning_effort', code: 'unsupported_value', message: expect.stringContaining('it takes none, minimal, low, medium or high') } });
    });

    test('Bedrock: a model without reasoning refuses reasoning_effort with a 400 naming it and the route (none passes)', async () => {
      const error = await client.chat.completions.create({ model: 'nova-pro', messages: user('x'), reasoning_effort: 'low' }).catch((e) => e);
      expect(error).toBeInstanceOf(OpenAI.BadRequestError);
      expect(error.error).toEqual({
        type: 'invalid_request_error',
        param: 'reasoning_effort',
        code: 'unsupported_value',
        message: expect.stringMatching(/^"reasoning_effort": "low" cannot be honoured on the Bedrock route of "nova-pro": the model has no reasoning setting/),
      });
      expect(bedrock.requests).toHaveLength(0);
      expect((await client.chat.completions.create({ model: 'nova-pro', messages: user('x'), reasoning_effort: 'none' })).choices[0].message.content).toBe('You said: x');
    });

    test('Bedrock: an assistant turn carrying reasoning_content is accepted and sent without it', async () => {
      const messages = [
        { role: 'user', content: '6*7?' },
        { role: 'assistant', content: 'It is 42.', reasoning_content: 'Six times seven.' },
        { role: 'user', content: 'and 6*8?' },
      ];
      await client.chat.completions.create({ model: 'nova-2-lite', messages, reasoning_effort: 'low' } as never);
      expect(bedrock.requests[0].body.messages).toEqual([
        { role: 'user', content: [{ text: '6*7?' }] },
        { role: 'assistant', content: [{ text: 'It is 42.' }] },
        { role: 'user', content: [{ text: 'and 6*8?' }] },
      ]);
    });

    test.each([
      ['vLLM', 'qwen-7b', () => vllm],
      ['the provider', 'qwen-max', () => provider],
    ])('%s gets reasoning_effort as sent; its reasoning_content deltas flow, and reasoning tokens are metered', async (_name, alias, upstream) => {
      upstream().push({ kind: 'reply', reasoning: ['Think ', 'hard.'], tokens: ['Done.'] }, { kind: 'reply', reasoning: ['Think ', 'hard.'], tokens: ['Done.'] });
      const chunks = await chunksOf(await client.chat.completions.create({ model: alias, messages: user('x'), reasoning_effort: 'high', stream: true, stream_options: { include_usage: true } }));
      expect(reasoningOf(chunks)).toBe('Think hard.');
      expect(contentOf(chunks)).toBe('Done.');
      expect(new Set(chunks.map((c) => c.model))).toEqual(new Set([alias]));
      expect(upstream().requests[0].body.reasoning_effort).toBe('high');
      expect(logs.at(-1)).toEqual(expect.objectContaining({ caller, outputTokens: 3, reasoningTokens: 2 }));

      const res = await client.chat.completions.create({ model: alias, messages: user('x'), reasoning_effort: 'low' });
      expect((res.choices[0].message as unknown as { reasoning_content: string }).reasoning_content).toBe('Think hard.');
      expect(res.usage!.completion_tokens_details).toEqual({ reasoning_tokens: 2 });
      expect(logs.at(-1)).toEqual(expect.objectContaining({ stream: false, reasoningTokens: 2 }));
    });
  });

  describe('prompt caching (Bedrock)', () => {
    const system = { role: 'system' as const, content: 'You are the Ningxia travel desk. '.repeat(20) };

    test('an opted-in Nova model gets a cache point after the system prompt (not after tools); a repeat reads the cache: cached_tokens, metered', async () => {
      const tools = [{ type: 'function' as const, function: { name: 'lookup', parameters: { type: 'object', properties: {} } } }];
      const first = await client.chat.completions.create({ model: 'nova-pro', messages: [system, ...user('hi')], tools });
      expect(bedrock.requests[0].body.system).toEqual([{ text: system.content }, { cachePoint: { type: 'default' } }]);
      expect(bedrock.requests[0].body.toolConfig.tools).toEqual([expect.objectContaining({ toolSpec: expect.objectContaining({ name: 'lookup' }) })]);
      expect(first.usage!.prompt_tokens_details).toEqual({ cached_tokens: 0 });
      const written = first.usage!.prompt_tokens;

      const chunks = await chunksOf(await client.chat.completions.create({ model: 'nova-pro', messages: [system, ...user('hi')], tools, stream: true, stream_options: { include_usage: true } }));
      const usage = chunks.at(-1)!.usage;
      expect(usage.prompt_tokens).toBe(written);
      expect(usage.prompt_tokens_details.cached_tokens).toBeGreaterThan(0);
      expect(logs.at(-1)).toEqual(expect.objectContaining({ caller, inputTokens: written, cachedTokens: usage.prompt_tokens_details.cached_tokens, CachedInputTokens: usage.prompt_tokens_details.cached_tokens }));
    });

    test('the native Converse route meters the cache the same way: every prompt token, cached ones among them', async () => {
      // The client's base URL ends in /v1; the native route sits beside it, and the client still signs/authenticates the call.
      const converse = () =>
        client.post('/../model/nova-pro/converse', {
          body: { system: [{ text: system.content }, { cachePoint: { type: 'default' } }], messages: [{ role: 'user', content: [{ text: 'hi' }] }] },
        }) as Promise<{ usage: { inputTokens: number; cacheReadInputTokens: number; cacheWriteInputTokens: number } }>;
      const written = (await converse()).usage;
      expect(logs.at(-1)).toEqual(expect.objectContaining({ caller, inputTokens: written.inputTokens + written.cacheWriteInputTokens, cachedTokens: 0 }));
      const read = (await converse()).usage;
      expect(read.cacheReadInputTokens).toBeGreaterThan(0);
      expect(logs.at(-1)).toEqual(expect.objectContaining({ inputTokens: read.inputTokens + read.cacheReadInputTokens, cachedTokens: read.cacheReadInputTokens }));
    });

    test('a model that caches tools gets a cache point after them too; a model not opted in gets none', async () => {
      const tools = [{ type: 'function' as const, function: { name: 'lookup', parameters: { type: 'object', properties: {} } } }];
      await client.chat.completions.create({ model: 'claude-sonnet', messages: [system, ...user('hi')], tools });
      expect(bedrock.requests[0].body.toolConfig.tools).toEqual([expect.objectContaining({ toolSpec: expect.anything() }), { cachePoint: { type: 'default' } }]);
      expect(bedrock.requests[0].body.system.at(-1)).toEqual({ cachePoint: { type: 'default' } });

      const plain = await client.chat.completions.create({ model: 'nova-2-lite', messages: [system, ...user('hi')], tools });
      expect(JSON.stringify(bedrock.requests[1].body)).not.toContain('cachePoint');
      expect(plain.usage!.prompt_tokens_details).toBeUndefined();
    });
  });
});

describe('every other parameter on the Bedrock route: honoured, neutral, or a 400 naming it and the route', () => {
  let client: OpenAI;
  beforeEach(async () => {
    client = await openDoor('lambda');
  });
  const ask = (extra: object) => client.chat.completions.create({ model: 'nova-pro', messages: user('hi'), ...extra } as never);

  test('service_tier flex and priority become Converse serviceTier, and the serving tier is reported; scale is refused', async () => {
    const res = await ask({ service_tier: 'flex' });
    expect(bedrock.requests[0].body.serviceTier).toEqual({ type: 'flex' });
    expect(res.service_tier).toBe('flex');
    const chunks = await chunksOf(await ask({ service_tier: 'priority', stream: true, stream_options: { include_usage: true } }));
    expect(bedrock.requests[1].body.serviceTier).toEqual({ type: 'priority' });
    expect(chunks.at(-1)!.service_tier).toBe('priority');
    await ask({ service_tier: 'auto' });
    expect(bedrock.requests[2].body.serviceTier).toBeUndefined();
    await expect(ask({ service_tier: 'scale' })).rejects.toMatchObject({ status: 400, error: { param: 'service_tier', code: 'unsupported_value' } });
  });

  test.each<[object, string]>([
    [{ n: 3 }, 'n'],
    [{ logprobs: true, top_logprobs: 2 }, 'logprobs'],
    [{ top_logprobs: 2 }, 'top_logprobs'],
    [{ presence_penalty: 0.4 }, 'presence_penalty'],
    [{ frequency_penalty: -0.2 }, 'frequency_penalty'],
    [{ seed: 7 }, 'seed'],
    [{ logit_bias: { '1234': -100 } }, 'logit_bias'],
    [{ parallel_tool_calls: false }, 'parallel_tool_calls'],
    [{ audio: { voice: 'alloy', format: 'wav' } }, 'audio'],
    [{ modalities: ['text', 'audio'] }, 'modalities'],
    [{ prediction: { type: 'content', content: 'hi' } }, 'prediction'],
    [{ store: true }, 'store'],
    [{ verbosity: 'low' }, 'verbosity'],
    [{ web_search_options: {} }, 'web_search_options'],
    [{ functions: [{ name: 'f', parameters: {} }] }, 'functions'],
  ])('%j -> 400 naming "%s" and the route, before any Bedrock call', async (extra, param) => {
    const error = await ask(extra).catch((e) => e);
    expect(error).toBeInstanceOf(OpenAI.BadRequestError);
    expect(error.error).toEqual({ type: 'invalid_request_error', param, code: expect.stringMatching(/^unsupported_(parameter|value)$/), message: expect.stringContaining(`"${param}"`) });
    expect(error.error.message).toContain('the Bedrock route of "nova-pro"');
    expect(bedrock.requests).toHaveLength(0);
  });

  test('structured output edge cases: an answer cut at the token limit says so; a strict schema the gateway cannot check and a non-object tool schema are 400s', async () => {
    bedrock.push({ kind: 'reply', text: '{"city": "Yin', stopReason: 'max_tokens' });
    const cut = await client.chat.completions.create({ model: 'claude-sonnet', messages: user('x'), response_format: weatherFormat(), max_tokens: 5 }).catch((e) => e);
    expect(cut).toMatchObject({ status: 502, error: { code: 'invalid_structured_output', message: expect.stringContaining('cut off at the token limit: raise max_tokens') } });

    const conditional = { type: 'object', properties: { a: { type: 'string' } }, if: { required: ['a'] }, then: { required: ['a'] } };
    const unchecked = await ask({ response_format: { type: 'json_schema', json_schema: { name: 'c', schema: conditional, strict: true } } }).catch((e) => e);
    expect(unchecked).toMatchObject({ status: 400, error: { param: 'response_format.json_schema.schema', code: 'unsupported_schema', message: expect.stringContaining('if/then/else') } });
    // Not strict: nothing to check, the model's constrained decoding is all there is.
    bedrock.push({ kind: 'reply', toolUse: { name: 'c', input: { a: 'x' } } });
    expect(JSON.parse((await ask({ response_format: { type: 'json_schema', json_schema: { name: 'c', schema: conditional } } })).choices[0].message.content!)).toEqual({ a: 'x' });

    const list = await ask({ response_format: { type: 'json_schema', json_schema: { name: 'l', schema: { type: 'array', items: { type: 'string' } } } } }).catch((e) => e);
    expect(list).toMatchObject({ status: 400, error: { param: 'response_format.json_schema.schema', code: 'unsupported_value' } });
    expect(bedrock.requests.map((r) => r.modelId)).toEqual([`us.${CLAUDE_ID}`, 'us.amazon.nova-pro-v1:0']);
  });

  test('neutral values and labels pass without reaching Converse', async () => {
    await ask({ n: 1, logprobs: false, top_logprobs: 0, presence_penalty: 0, frequency_penalty: 0, logit_bias: {}, parallel_tool_calls: true, modalities: ['text'], store: false, user: 'u-1', metadata: { team: 'a' }, safety_identifier: 's', prompt_cache_key: 'k', response_format: { type: 'text' }, reasoning_effort: 'none', service_tier: 'default' });
    const sent = bedrock.requests[0].body;
    expect(Object.keys(sent).sort()).toEqual(['messages']);
  });
});
