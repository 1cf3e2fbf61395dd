import { gzipSync } from 'zlib';
import { docSearchHandler, searchTerms, TOOL_SCHEMAS as DOC_SCHEMAS } from '../../../runtime/agents/tools/doc-search';
import { ToolInputError } from '../../../runtime/agents/tools/tool-lambda';
import { jsonRecords, TOOL_SCHEMAS as USAGE_SCHEMAS, usageSummaryHandler } from '../../../runtime/agents/tools/usage-summary';
import { S3Local } from '../../fakes/s3-local';

const BUCKET = 'cnllm-tools';
const gatewayCall = (tool: string) => ({ clientContext: { custom: { bedrockAgentCoreToolName: `kit-tools___${tool}` } } });

describe('tool Lambdas against loopback S3', () => {
  const s3 = new S3Local([BUCKET]);
  beforeAll(async () => {
    await s3.start();
    const line = (r: object) => JSON.stringify(r);
    await s3.put(
      BUCKET,
      'ledger/dt=2026-11-29/part-0001.jsonl',
      [
        line({ requestId: 'a', group: 'search', model: 'qwen-max', inputTokens: 100, outputTokens: 20, cost: { amount: 0.0012, currency: 'CNY' } }),
        line({ requestId: 'b', group: 'search', model: 'nova-lite', inputTokens: 50, outputTokens: 5 }),
        'not json',
        '',
      ].join('\n'),
    );
    // Firehose writes gzip objects when compression is on.
    await s3.put(BUCKET, 'ledger/dt=2026-11-30/part-0002.jsonl.gz', gzipSync([line({ group: 'search', model: 'qwen-max', inputTokens: 10, outputTokens: 1, cost: { amount: 0.0001, currency: 'CNY' } }), line({ model: 'qwen-max', inputTokens: 7, outputTokens: 3 })].join('\n')));
    // Firehose without a newline delimiter writes records back to back.
    await s3.put(BUCKET, 'ledger/dt=2026-11-30/part-0003.jsonl', `${line({ group: 'support', model: 'qwen-plus', inputTokens: 5, outputTokens: 5, note: 'a } and a { in a string' })}${line({ group: 'support', model: 'qwen-plus', inputTokens: 1, outputTokens: 1 })}`);
    // Outside the range asked for: must not be counted.
    await s3.put(BUCKET, 'ledger/dt=2026-12-01/part-0003.jsonl', line({ group: 'search', model: 'qwen-max', inputTokens: 1000000, outputTokens: 1 }));

    await s3.put(BUCKET, 'docs/residency.md', '# Data residency\n\nWith routing.residency china-only the gateway refuses cross-border routes: no request leaves mainland China.\n');
    await s3.put(BUCKET, 'docs/streaming.md', '# Streaming in China\n\nLambda response streaming is not available; the streaming door serves real streams.\n');
    await s3.put(BUCKET, 'docs/faq.json', JSON.stringify([{ title: '跨境数据', text: '跨境数据传输需要遵守个人信息保护法。' }, { title: 'Quotas', body: 'Each group has a monthly token budget.' }]));
    await s3.put(BUCKET, 'docs/image.png', 'residency residency residency');
  });
  afterAll(() => s3.stop());

  const ledger = () => usageSummaryHandler({ s3: s3.client(), bucket: BUCKET, prefix: 'ledger/' });
  const docs = () => docSearchHandler({ s3: s3.client(), bucket: BUCKET, prefix: 'docs/' });

  test('usage_summary sums tokens and cost per group and model over the days asked, gzip objects included', async () => {
    const summary = await ledger()({ from: '2026-11-29', to: '2026-11-30' }, gatewayCall('usage_summary'));
    expect(summary.rows).toEqual([
      { group: 'search', model: 'qwen-max', requests: 2, inputTokens: 110, outputTokens: 21, cost: { CNY: 0.0013 } },
      { group: 'search', model: 'nova-lite', requests: 1, inputTokens: 50, outputTokens: 5, cost: {} },
      { group: 'support', model: 'qwen-plus', requests: 2, inputTokens: 6, outputTokens: 6, cost: {} },
      { group: 'default', model: 'qwen-max', requests: 1, inputTokens: 7, outputTokens: 3, cost: {} },
    ]);
    expect(summary.totals).toEqual({ requests: 6, inputTokens: 173, outputTokens: 35, cost: { CNY: 0.0013 } });
    expect(summary).toMatchObject({ objectsRead: 3, skippedLines: 1, truncated: false });
  });

  test('ledger records one per line or back to back (braces inside strings do not split them)', () => {
    expect(jsonRecords('{"a":1}\n\n{"b":"}{"}{"c":{"d":2}}\n{"broken":')).toEqual(['{"a":1}', '{"b":"}{"}', '{"c":{"d":2}}', '{"broken":']);
  });

  test('usage_summary per model, filtered to one group, ignores the MCP trace context argument', async () => {
    const summary = await ledger()({ from: '2026-11-29', to: '2026-11-30', groupBy: 'model', group: 'search', _meta: { traceparent: '00-abc' } }, gatewayCall('usage_summary'));
    expect(summary.rows).toEqual([
      { model: 'qwen-max', requests: 2, inputTokens: 110, outputTokens: 21, cost: { CNY: 0.0013 } },
      { model: 'nova-lite', requests: 1, inputTokens: 50, outputTokens: 5, cost: {} },
    ]);
  });

  test.each([
    [{ from: '2026-11-31', to: '2026-12-01' }, /from must be a day as YYYY-MM-DD/],
    [{ from: '2026-12-01', to: '2026-11-01' }, /is before from/],
    [{ from: '2026-01-01', to: '2026-12-01' }, /at most 92 days/],
    [{ from: '2026-11-29', to: '2026-11-30', groupBy: 'team' }, /groupBy must be group, model or group_model/],
    [['2026-11-29'], /JSON object of named arguments/],
  ])('usage_summary refuses bad input %j', async (input, message) => {
    await expect(ledger()(input, gatewayCall('usage_summary'))).rejects.toThrow(message);
    await expect(ledger()(input, gatewayCall('usage_summary'))).rejects.toBeInstanceOf(ToolInputError);
  });

  test('a call routed to the wrong function is refused, naming what it serves', async () => {
    await expect(ledger()({ query: 'x' }, gatewayCall('doc_search'))).rejects.toThrow('this function serves usage_summary, not "doc_search"');
  });

  test('doc_search ranks Markdown and JSON documents by keyword, with a snippet around the first match', async () => {
    const result = await docs()({ query: 'residency china-only', limit: 2 }, gatewayCall('doc_search'));
    expect(result.hits[0]).toMatchObject({ key: 'docs/residency.md', title: 'Data residency' });
    expect(result.hits[0].snippet).toContain('china-only the gateway refuses cross-border routes');
    // The .png is not a document, whatever it holds.
    expect(result.hits.map((h) => h.key)).not.toContain('docs/image.png');
    expect(result.documentsSearched).toBe(3);
    const chinese = await docs()({ query: '跨境 数据' }, gatewayCall('doc_search'));
    expect(chinese.hits.map((h) => h.title)).toEqual(['跨境数据']);
    const json = await docs()({ query: 'monthly budget' }, gatewayCall('doc_search'));
    expect(json.hits.map((h) => [h.key, h.title])).toEqual([['docs/faq.json', 'Quotas']]);
  });

  test('doc_search refuses an empty query and a limit out of range', async () => {
    await expect(docs()({ query: '  ' })).rejects.toThrow('query must be a non-empty string');
    await expect(docs()({ query: 'residency', limit: 50 })).rejects.toThrow('limit must be a whole number from 1 to 20');
    await expect(docs()({ query: '!!!' })).rejects.toThrow('no searchable words');
  });

  test('search terms: words for Latin text, character pairs for Chinese', () => {
    expect(searchTerms('China-only 跨境数据 a')).toEqual(['china', 'only', '跨境', '境数', '数据']);
  });

  test('tool schemas use only what AgentCore Gateway schema definitions know', () => {
    for (const schema of [...USAGE_SCHEMAS, ...DOC_SCHEMAS]) {
      expect(schema.name).toMatch(/^[a-z_]{1,64}$/);
      expect(Object.keys(schema.inputSchema).sort()).toEqual(['properties', 'required', 'type']);
      for (const property of Object.values(schema.inputSchema.properties)) expect(Object.keys(property).sort()).toEqual(['description', 'type']);
      for (const required of schema.inputSchema.required) expect(schema.inputSchema.properties).toHaveProperty(required);
    }
  });
});
