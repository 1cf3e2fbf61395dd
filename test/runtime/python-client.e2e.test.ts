import { spawn } from 'child_process';
import * as http from 'http';
import { AddressInfo } from 'net';
import * as path from 'path';
import { BedrockInvoker } from '../../runtime/gateway/bedrock';
import { createGateway, Gateway } from '../../runtime/gateway/gateway';
import { OpenAiUpstream } from '../../runtime/gateway/openai-upstream';
import { GatewayRuntimeConfigSchema } from '../../runtime/gateway/runtime-config';
import { startLocalGateway } from '../../runtime/local/local-gateway';
import { MemoryCounterStore } from '../../runtime/quota/counter-store';
import { Quota } from '../../runtime/quota/quota';
import { QuotaRuntimeConfigSchema } from '../../runtime/quota/quota-config';
import { startStreamingServer } from '../../runtime/server/server';
import { Behaviour, BedrockFake, fakeVector } from '../fakes/bedrock-fake';
import { OpenAiUpstreamFake, UpstreamBehaviour } from '../fakes/openai-upstream-fake';
import { REPO_ROOT } from '../helpers/cli';

/**
 * The official openai Python package (test/python/requirements.txt, installed by npm run setup)
 * against every host of the gateway: the Lambda handler behind API Gateway's buffered proxy
 * integration, the local runner streaming, and the streaming door with its bearer keys; and the
 * README's SigV4 example against the local runner's IAM check. One Python process per host runs
 * every case (test/python/*.py) and prints what the client saw; the stand-ins are driven from the
 * script through a loopback control endpoint. The processes run at once: most of their time is waits.
 */

const PYTHON = process.env.CNLLM_PYTHON ?? 'python3';
const SCRIPT = path.join(REPO_ROOT, 'test', 'python', 'openai_client_cases.py');
const SIGV4_SCRIPT = path.join(REPO_ROOT, 'test', 'python', 'openai_sigv4_cases.py');
const DOOR_KEY = 'sk-team-py';

type Host = 'lambda' | 'local' | 'door';
const HOSTS: Host[] = ['lambda', 'local', 'door'];

/**
 * One host's own stand-ins, log and quota clock: the hosts' Python processes run at the same time
 * (their waits overlap), so nothing they queue or count may be shared.
 */
class Rig {
  bedrock!: BedrockFake;
  vllm!: OpenAiUpstreamFake;
  readonly logs: Record<string, unknown>[] = [];
  /**
   * The quota's clock, which the script stops and restarts: a case's requests see the time it chose
   * (so a minute window ends exactly when the case needs it to, however busy the machine), then the
   * clock runs on from there.
   */
  private quotaClockOffset = 0;
  private quotaClockStoppedAt?: number;
  readonly quotaNow = () => this.quotaClockStoppedAt ?? Date.now() + this.quotaClockOffset;

  async start(): Promise<this> {
    this.bedrock = await new BedrockFake().start();
    this.vllm = await new OpenAiUpstreamFake('vllm', 'vllm-key').start();
    return this;
  }

  stop(): Promise<unknown> {
    return Promise.all([this.bedrock.stop(), this.vllm.stop()]);
  }

  /** Where the script reaches the stand-ins: queue behaviours, count requests, read a request body, end the quota minute soon. */
  control(op: Record<string, any>): unknown {
    const fake = op.fake === 'bedrock' ? this.bedrock : this.vllm;
    switch (op.op) {
      case 'push':
        (fake as { push(...b: unknown[]): unknown }).push(...(op.behaviours as (Behaviour | UpstreamBehaviour)[]));
        return null;
      case 'abandoned':
        return this.bedrock.abandonedStreams.length;
      case 'count':
        return fake.requests.length;
      case 'lastBody':
        return fake.requests.at(-1 - (op.skip ?? 0))?.body ?? null;
      case 'stopQuotaClock': {
        // Always forward (a fresh minute, never one already counted in), to `ms` before that minute ends.
        const now = this.quotaNow();
        this.quotaClockStoppedAt = (Math.floor(now / 60_000) + 2) * 60_000 - op.ms;
        return null;
      }
      case 'runQuotaClock':
        this.quotaClockOffset = this.quotaClockStoppedAt! - Date.now();
        this.quotaClockStoppedAt = undefined;
        return null;
      default:
        throw new Error(`unknown control op ${op.op}`);
    }
  }

  gateway(): Gateway {
    const config = GatewayRuntimeConfigSchema.parse({
      bedrockEndpoint: this.bedrock.url,
      models: [
        { alias: 'nova-lite', modelId: 'us.amazon.nova-lite-v1:0' },
        { alias: 'nova-limited', modelId: 'us.amazon.nova-micro-v1:0' },
        { alias: 'nova-budget', modelId: 'us.amazon.nova-pro-v1:0' },
        { alias: 'titan-embed-v2', modelId: 'amazon.titan-embed-text-v2:0', kind: 'embed' },
        { alias: 'qwen-7b', modelId: 'qwen2.5-7b-instruct', route: 'vllm-qwen' },
        { alias: 'bge-m3', modelId: 'bge-m3', route: 'vllm-qwen', kind: 'embed' },
        // vLLM serves models under their repository names: a slash in the name.
        { alias: 'Qwen/Qwen2.5-7B-Instruct', modelId: 'Qwen/Qwen2.5-7B-Instruct', route: 'vllm-qwen' },
      ],
      upstreams: [{ name: 'vllm-qwen', kind: 'vllm', baseUrl: `${this.vllm.url}/v1`, maxAttempts: 1 }],
      retry: { baseDelayMs: 1, maxDelayMs: 2 },
    });
    const quota = new Quota(
      QuotaRuntimeConfigSchema.parse({
        enforce: true,
        limitsCacheSeconds: 0,
        default: { models: { 'nova-lite': { requestsPerMinute: 1000 }, 'nova-limited': { requestsPerMinute: 1 }, 'nova-budget': { dailyTokens: 1 } } },
      }),
      { store: new MemoryCounterStore(undefined, this.quotaNow), now: this.quotaNow, log: () => undefined },
    );
    return createGateway({
      config,
      bedrock: new BedrockInvoker(config, { get: async () => ({ accessKeyId: 'AKIAGLOBAL', secretAccessKey: 's' }), invalidate: () => undefined }, async () => undefined),
      upstreams: new Map(config.upstreams.map((u) => [u.name, new OpenAiUpstream(u, undefined, { get: async () => 'vllm-key' })])),
      log: (l) => this.logs.push(l),
      quota,
    });
  }
}

async function openHost(host: Host, gateway: Gateway): Promise<{ baseUrl: string; close: () => Promise<void> }> {
  if (host === 'door') {
    const server = await startStreamingServer({
      gateway,
      authenticators: [{ authenticate: async (token) => (token === DOOR_KEY ? { caller: 'team-py' } : undefined) }],
      port: 0,
      host: '127.0.0.1',
      log: () => undefined,
    });
    return { baseUrl: `${server.url}/v1`, close: () => server.drain() };
  }
  const local = await startLocalGateway({ gateway, mode: host === 'lambda' ? 'buffered' : 'stream' });
  return { baseUrl: `${local.url}/v1`, close: () => local.close() };
}

/** Runs a script's cases in one Python process (asynchronously: the hosts and stand-ins live in this process). */
function runPython(script: string, env: Record<string, string>): Promise<Record<string, any>> {
  return new Promise((resolve, reject) => {
    const child = spawn(PYTHON, [script], {
      cwd: REPO_ROOT,
      // Only loopback: no proxy variables or AWS settings of the developer's shell, no bytecode written into the repo.
      env: { PATH: process.env.PATH!, HOME: process.env.HOME!, PYTHONDONTWRITEBYTECODE: '1', NO_PROXY: '*', AWS_CONFIG_FILE: '/dev/null', AWS_SHARED_CREDENTIALS_FILE: '/dev/null', ...env },
    });
    let out = '';
    let err = '';
    child.stdout.on('data', (d) => (out += d));
    child.stderr.on('data', (d) => (err += d));
    const timer = setTimeout(() => child.kill('SIGKILL'), 90_000);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      if (code !== 0) return reject(new Error(`${PYTHON} ${script} exited ${code}: ${err}`));
      resolve(JSON.parse(out));
    });
  });
}

const SIGV4_CALLER = { accessKeyId: 'AKIAPYTHONCALLER', secretAccessKey: 'python-caller-secret', arn: 'arn:aws-cn:iam::111122223333:user/python' };

/** A host opened, the script run against it, then the host closed. */
async function runAgainst(open: () => Promise<{ baseUrl: string; close: () => Promise<void> }>, run: (baseUrl: string) => Promise<Record<string, any>>) {
  const opened = await open();
  try {
    return await run(opened.baseUrl);
  } finally {
    await opened.close();
  }
}

const rigs = new Map<string, Rig>();
const results = new Map<string, Record<string, any>>();
let control: http.Server;

beforeAll(async () => {
  for (const name of [...HOSTS, 'sigv4']) rigs.set(name, await new Rig().start());
  // One control endpoint; the path names the rig (/lambda, /local, /door).
  control = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', () => {
      try {
        const result = rigs.get((req.url ?? '/').slice(1))!.control(JSON.parse(Buffer.concat(chunks).toString('utf8')));
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(JSON.stringify(result));
      } catch (e) {
        res.writeHead(500);
        res.end((e as Error).message);
      }
    });
  });
  await new Promise<void>((resolve) => control.listen(0, '127.0.0.1', resolve));
  const controlUrl = `http://127.0.0.1:${(control.address() as AddressInfo).port}`;
  const runs = HOSTS.map(async (host) => {
    const rig = rigs.get(host)!;
    const seen = await runAgainst(() => openHost(host, rig.gateway()), (baseUrl) => runPython(SCRIPT, { CNLLM_BASE_URL: baseUrl, CNLLM_API_KEY: DOOR_KEY, CNLLM_CONTROL_URL: `${controlUrl}/${host}`, CNLLM_HOST: host }));
    results.set(host, seen);
  });
  const sigv4 = rigs.get('sigv4')!;
  runs.push(
    (async () => {
      // gateway:local --iam: signatures checked as API Gateway's IAM authorization checks them, its rejections answered as the deployed API answers them.
      const seen = await runAgainst(
        async () => {
          const local = await startLocalGateway({ gateway: sigv4.gateway(), mode: 'buffered', iam: { region: 'cn-northwest-1', callers: [SIGV4_CALLER] } });
          return { baseUrl: `${local.url}/v1`, close: () => local.close() };
        },
        (baseUrl) => runPython(SIGV4_SCRIPT, { CNLLM_BASE_URL: baseUrl, CNLLM_REGION: 'cn-northwest-1', AWS_ACCESS_KEY_ID: SIGV4_CALLER.accessKeyId, AWS_SECRET_ACCESS_KEY: SIGV4_CALLER.secretAccessKey }),
      );
      results.set('sigv4', seen);
    })(),
  );
  await Promise.all(runs);
}, 150_000);
afterAll(async () => {
  await new Promise((resolve) => control.close(resolve));
  await Promise.all([...rigs.values()].map((rig) => rig.stop()));
});

const noCrash = (results: Record<string, any>) => Object.entries(results).filter(([, r]) => r && typeof r === 'object' && 'crashed' in r);

describe.each<Host>(HOSTS)('the openai Python client through the %s host', (host) => {
  let r: Record<string, any>;
  let logs: Record<string, unknown>[];
  beforeAll(() => {
    r = results.get(host)!;
    logs = rigs.get(host)!.logs;
  });

  test('every case ran (the pinned client version; no case crashed)', () => {
    expect(r.openai_version).toBe('3.22.1');
    expect(noCrash(r)).toEqual([]);
  });

  test('chat: a ChatCompletion with the alias, stop, usage and a request id', () => {
    expect(r.chat).toEqual({
      id: expect.stringMatching(/^chatcmpl-/),
      object: 'chat.completion',
      model: 'nova-lite',
      created_is_int: true,
      content: 'You said: hello from python',
      role: 'assistant',
      finish_reason: 'stop',
      usage: expect.objectContaining({ prompt_tokens: expect.any(Number), completion_tokens: expect.any(Number), total_tokens: expect.any(Number) }),
      request_id: expect.any(String),
    });
  });

  test('streams (Bedrock and vLLM): chunks parse, content and finish_reason, a usage chunk with no choices (include_usage)', () => {
    for (const [alias, content] of [
      ['nova-lite', 'You said: stream this'],
      ['qwen-7b', 'vllm: stream this'],
    ]) {
      const s = r.chat_stream[alias];
      expect({ alias, raised: s.raised, content: s.content, finish: s.finish_reasons, objects: s.objects, models: s.models }).toEqual({ alias, raised: null, content, finish: ['stop'], objects: ['chat.completion.chunk'], models: [alias] });
      expect(s.usage).toEqual(expect.objectContaining({ prompt_tokens: expect.any(Number), completion_tokens: expect.any(Number), total_tokens: expect.any(Number) }));
      expect(s.usage_chunk_choices).toBe(0);
    }
    expect(r.chat_stream_async).toEqual({ stream_content: 'You said: async stream', stream_finish: 'stop', content: 'You said: async' });
  });

  test('tools: tool_calls come back; the message object sent back as it came plus the tool result is a valid next turn (Bedrock and vLLM); streamed tool calls assemble', () => {
    const t = r.tools;
    expect(t.finish_reason).toBe('tool_calls');
    expect(t.tool_calls).toEqual([{ id: expect.any(String), type: 'function', name: 'get_weather', arguments: { city: 'Yinchuan' } }]);
    expect(t.second).toEqual({ ok: expect.stringMatching(/^You said: /) });
    expect(t.tool_result_sent.messages).toEqual([
      { role: 'user', content: [{ text: 'What is the weather in Yinchuan?' }] },
      { role: 'assistant', content: [{ text: 'Let me check.' }, { toolUse: { toolUseId: t.tool_calls[0].id, name: 'get_weather', input: { city: 'Yinchuan' } } }] },
      { role: 'user', content: [{ toolResult: { toolUseId: t.tool_calls[0].id, content: [{ text: '{"temp_c": 21}' }] } }] },
    ]);
    expect(t.streamed.raised).toBeNull();
    expect(t.streamed.tool_calls).toEqual([{ id: expect.any(String), name: 'get_weather', arguments: '{"city":"Zhongwei"}' }]);
    expect(t.streamed.finish_reasons).toEqual(['tool_calls']);
    // The vLLM stand-in echoes the last user turn: the point is that the turn was accepted and forwarded whole.
    expect(t.vllm_second).toEqual({ ok: 'vllm: What is the weather in Yinchuan?' });
    expect(t.vllm_messages[2]).toEqual({ role: 'tool', tool_call_id: t.tool_calls[0].id, content: '{"temp_c": 21}' });
    expect(t.vllm_messages[1]).toEqual(expect.objectContaining({ role: 'assistant', tool_calls: [expect.objectContaining({ id: t.tool_calls[0].id, function: { name: 'get_weather', arguments: '{"city":"Yinchuan"}' } })] }));
  });

  test('structured outputs: chat.completions.parse with a pydantic model (nested, Optional, Literal) and a strict json_schema dict', () => {
    const s = r.structured;
    expect(s.parsed).toEqual({ ok: { place: { city: 'Yinchuan', province: null }, temp_c: 21, sky: 'clear' } });
    expect(s.tool_config.toolChoice).toEqual({ tool: { name: 'Forecast' } });
    expect(s.off_schema).toEqual({ error: expect.objectContaining({ class: 'InternalServerError', status_code: 502, code: 'invalid_structured_output' }) });
    expect(s.json_schema_content).toEqual({ city: 'Guyuan', temp_c: 9 });
    expect(s.vllm_content).toEqual({ upstream: 'vllm', said: 'hi' });
    expect(s.vllm_response_format).toEqual(expect.objectContaining({ type: 'json_schema', json_schema: expect.objectContaining({ name: 'weather', strict: true }) }));
  });

  test('embeddings: float, the client default (base64 decoded by the client) and explicit base64 give the same vectors; vLLM too', () => {
    const e = r.embeddings;
    const expected = ['宁夏的数据中心', 'Ningxia data centre'].map((t) => fakeVector(t, 256));
    expect(e.float).toEqual(expected);
    expect(e.float_indexes).toEqual([0, 1]);
    expect(e.default).toEqual(expected);
    expect(e.base64_is_str).toBe(true);
    expect(e.base64_decoded).toEqual(expected[0]);
    expect(e).toEqual(expect.objectContaining({ model: 'titan-embed-v2', object: 'list', usage: { prompt_tokens: expect.any(Number), total_tokens: expect.any(Number) } }));
    expect(e.vllm).toEqual(['宁夏的数据中心', 'Ningxia data centre'].map((t) => fakeVector(`vllm:${t}`, 8)));
    expect(e.vllm_encoding_format).toBe('base64');
  });

  test('models: list (and its pager), retrieve, and NotFoundError for a model the gateway does not serve', () => {
    const m = r.models;
    expect(m.ids).toEqual(['nova-lite', 'nova-limited', 'nova-budget', 'titan-embed-v2', 'qwen-7b', 'bge-m3', 'Qwen/Qwen2.5-7B-Instruct']);
    expect(m.pages).toEqual(m.ids);
    expect(m.retrieved).toEqual({ id: 'nova-lite', object: 'model', owned_by: 'amazon-bedrock', created: 0 });
    expect(m.unknown.error).toEqual(expect.objectContaining({ class: 'NotFoundError', status_code: 404, code: 'model_not_found' }));
  });

  test('with_raw_response: x-ratelimit-* and x-request-id headers, the same id on the parsed object', () => {
    const h = r.raw_headers;
    expect(h.status).toBe(200);
    expect(h.headers).toEqual(
      expect.objectContaining({ 'content-type': 'application/json', 'x-ratelimit-limit-requests': '1000', 'x-ratelimit-remaining-requests': expect.stringMatching(/^9\d\d$/), 'x-ratelimit-reset-requests': expect.any(String), 'x-request-id': expect.any(String) }),
    );
    expect(h.request_id).toBe(h.headers['x-request-id']);
    expect(h.parsed_request_id).toBe(h.request_id);
    // The id is the one the request log line carries: what an operator searches for.
    expect(logs.map((l) => l.requestId)).toContain(h.request_id);
  });

  test('errors map to the client exception classes with code and param', () => {
    const e = r.errors;
    expect(e.unsupported_param.error).toEqual(expect.objectContaining({ class: 'BadRequestError', status_code: 400, code: 'unsupported_value', param: 'reasoning_effort', type: 'invalid_request_error' }));
    expect(e.no_messages.error).toEqual(expect.objectContaining({ class: 'BadRequestError', status_code: 400, param: 'messages' }));
    expect(e.unknown_model.error).toEqual(expect.objectContaining({ class: 'NotFoundError', status_code: 404, code: 'model_not_found', param: 'model' }));
    // The exception carries the id the request log line has.
    expect(logs.map((l) => l.requestId)).toContain(e.unknown_model.error.request_id);
    expect(e.wrong_kind.error).toEqual(expect.objectContaining({ class: 'BadRequestError', code: 'model_not_supported', param: 'model' }));
    if (host === 'door') expect(e.bad_key.error).toEqual(expect.objectContaining({ class: 'AuthenticationError', status_code: 401, code: 'invalid_api_key' }));
  });

  test('rate limit: RateLimitError with retry-after; with max_retries the client waits it out and the retry is served', () => {
    const q = r.rate_limit;
    expect(q.first).toEqual({ ok: 'You said: one' });
    expect(q.refused.error).toEqual(expect.objectContaining({ class: 'RateLimitError', status_code: 429, code: 'rate_limit_exceeded' }));
    expect(q.refused.error.headers).toEqual(expect.objectContaining({ 'retry-after': '2', 'retry-after-ms': '1500', 'x-ratelimit-remaining-requests': '0' }));
    expect(q.retried_status).toBe(200);
    expect(q.retries_taken).toBe(1);
    // It waited for the window (retry-after-ms), not the client's own half-second backoff.
    expect(q.waited_s).toBeGreaterThan(1.4);
    expect(q.upstream_calls).toBe(2);
  });

  test('a spent budget: RateLimitError insufficient_quota, never retried by the client', () => {
    const b = r.budget;
    expect(b.first).toEqual({ ok: 'You said: spend it all' });
    expect(b.refused.error).toEqual(expect.objectContaining({ class: 'RateLimitError', status_code: 429, code: 'insufficient_quota' }));
    expect(b.refused.error.headers['x-should-retry']).toBe('false');
    // One refusal reached the gateway (a retry would be a second), and no backoff was waited (three retries sleep 2.6 s or more).
    expect(logs.filter((l) => l.error === 'insufficient_quota')).toHaveLength(1);
    expect(b.elapsed_s).toBeLessThan(1.5);
    expect(b.upstream_calls).toBe(1);
  });

  test('5xx: InternalServerError; the client retry of a 5xx is served; a Bedrock validation error is a 400 the client does not retry', () => {
    const s = r.server_errors;
    expect(s.failed.error).toEqual(expect.objectContaining({ class: 'InternalServerError', status_code: 502, code: 'upstream_error' }));
    expect(s.failed_upstream_calls).toBe(1);
    expect(s.retried).toEqual({ status: 200, retries_taken: 1, content: 'vllm: retry me' });
    expect(s.retried_upstream_calls).toBe(2);
    expect(s.stream_retried).toEqual(expect.objectContaining({ raised: null, content: 'vllm: stream again', finish_reasons: ['stop'] }));
    expect(s.validation.error).toEqual(expect.objectContaining({ class: 'BadRequestError', code: 'bedrock_validation' }));
  });

  test("an upstream's 429 with retry-after: RateLimitError carrying it, and the client's retry waits that long", () => {
    const u = r.upstream_throttle;
    expect(u.refused.error).toEqual(expect.objectContaining({ class: 'RateLimitError', status_code: 429, code: 'rate_limit_exceeded' }));
    expect(u.refused.error.headers['retry-after']).toBe('1');
    expect(u.retried).toEqual({ status: 200, retries_taken: 1, content: 'vllm: after the wait' });
    // The provider's second, not the client's own backoff (at most half a second on a first retry).
    expect(u.waited_s).toBeGreaterThan(0.9);
    expect(u.upstream_calls).toBe(3);
  });

  test('timeouts: APITimeoutError at the client timeout; a stream that stalls after its first tokens is never sent twice', () => {
    const t = r.timeouts;
    expect(t.timed_out.error).toEqual(expect.objectContaining({ class: 'APITimeoutError' }));
    expect(t.elapsed_s).toBeLessThan(2);
    // The caller that gave up cancelled its Bedrock call (logged as such), rather than leaving it to run on.
    expect(logs).toContainEqual(expect.objectContaining({ msg: 'request', model: 'nova-lite', error: 'client_closed_request' }));
    if (host === 'lambda') {
      // Buffered: nothing reached the caller when its read timed out, so its retry is safe and is served.
      expect(t.stalled).toEqual(expect.objectContaining({ raised: null, content: 'You said: one two three four' }));
      expect(t.upstream_calls).toBe(3);
    } else {
      expect(t.stalled.content).toBe('You said: ');
      expect(t.stalled.raised).toEqual(expect.objectContaining({ class: 'APITimeoutError' }));
      expect(t.upstream_calls).toBe(2);
    }
  });

  test("the client's helpers: pydantic_function_tool (strict tools) and chat.completions.stream() with a pydantic response_format", () => {
    const h = r.helpers;
    expect(h.called).toEqual({ ok: [{ city: 'Yinchuan', unit: 'c' }] });
    expect(h.streamed).toEqual({ ok: { parsed: { place: { city: 'Wuzhong', province: 'Ningxia' }, temp_c: 18, sky: 'cloudy' }, finish_reason: 'stop', usage: true } });
    expect(h.streamed_tool).toEqual({ ok: { content: 'Checking.', finish_reason: 'tool_calls', calls: [{ type: 'function', id: expect.any(String), parsed: { city: 'Guyuan', unit: 'f' } }] } });
    expect(h.event_types).toEqual(expect.arrayContaining(['chunk', 'content.delta', 'content.done', 'tool_calls.function.arguments.delta', 'tool_calls.function.arguments.done']));
  });

  test('request shapes Python code sends: sampling parameters, system prompt, an image as a data URL, model names with ":" or "/" in a path, an error before a stream', () => {
    const s = r.request_shapes;
    expect(s.tuned).toEqual({ ok: 'You said: tuned' });
    expect(s.tuned_inference_config).toEqual({ maxTokens: 64, temperature: 0.2, topP: 0.9, stopSequences: ['\n\n'] });
    expect(s.tuned_system).toEqual([{ text: 'Be brief.' }]);
    expect(s.image.ok).toMatch(/^You said: what is this/);
    expect(s.image_block).toEqual({ image: { format: 'png', source: { bytes: expect.stringMatching(/^iVBORw0KGgo/) } } });
    expect(s.by_bedrock_id).toEqual({ ok: 'nova-lite' });
    expect(s.slash_alias).toEqual({ ok: 'Qwen/Qwen2.5-7B-Instruct' });
    expect(s.slash_alias_chat).toEqual({ ok: 'vllm: slash' });
    expect(s.stream_unknown_model.error).toEqual(expect.objectContaining({ class: 'NotFoundError', status_code: 404, code: 'model_not_found', request_id: expect.any(String) }));
  });

  test('a caller that breaks out of a stream and closes it cancels the upstream stream (hosts that stream)', () => {
    if (host === 'lambda') return expect(r.early_exit).toBeNull();
    expect(r.early_exit).toEqual({ received: 3, abandoned: 1 });
  });

  test('a mid-stream upstream failure raises openai.APIError from the iterator after the tokens that came, and is not retried', () => {
    const m = r.mid_stream;
    expect(m.bedrock.content).toBe('You said: ');
    expect(m.bedrock.raised).toEqual(expect.objectContaining({ class: 'APIError', is_api_error: true, is_status_error: false, code: 'upstream_error', message: expect.stringContaining('the model broke down') }));
    expect(m.vllm.content).toBe('half an answer');
    expect(m.vllm.raised).toEqual(expect.objectContaining({ class: 'APIError', code: 'upstream_truncated' }));
    expect(m.upstream_calls).toEqual({ bedrock: 1, vllm: 1 });
  });
});

describe("the README's Python example for the IAM-authorized API: the openai client over an httpx client signing with SigV4 (botocore)", () => {
  let r: Record<string, any>;
  beforeAll(() => {
    r = results.get('sigv4')!;
  });

  test('signed: chat, a stream, models and embeddings are served, as the signing principal', () => {
    expect(r.signed).toEqual({ content: 'You said: 你好, signed', streamed: 'You said: signed stream', models: ['nova-lite'], embedding_length: 256 });
    expect(rigs.get('sigv4')!.logs).toContainEqual(expect.objectContaining({ msg: 'request', caller: SIGV4_CALLER.arn, status: 200 }));
  });

  test("unsigned, or signed with the wrong secret: PermissionDeniedError with API Gateway's error type", () => {
    expect(r.unsigned.error).toEqual(expect.objectContaining({ class: 'PermissionDeniedError', status_code: 403, error_type_header: 'MissingAuthenticationTokenException' }));
    expect(r.wrong_secret.error).toEqual(expect.objectContaining({ class: 'PermissionDeniedError', status_code: 403, error_type_header: 'InvalidSignatureException' }));
  });
});
