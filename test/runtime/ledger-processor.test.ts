import { gunzipSync, gzipSync } from 'zlib';
import { CallerDimensions } from '../../runtime/gateway/caller';
import { Outcome, requestLogLine } from '../../runtime/gateway/request-log';
import { FirehoseTransformationEvent, handler, PARTITION_KEYS_ENV, transform } from '../../runtime/ledger/firehose-processor';
import { LEDGER_FIELDS, toLedgerRecord } from '../../runtime/ledger/record';
import { GatewayRequest } from '../../runtime/gateway/types';

const PROMPT = '请总结这份合同: secret clause 42';
const COMPLETION = 'The contract says secret clause 42';
const NOV_3 = Date.parse('2026-11-03T23:59:58.500Z');

/** A request-log line as the gateway writes it, with content logging on (gateway.logContent) and everything wp-quota adds. */
function requestLine(overrides: Partial<Outcome> = {}, at = NOV_3, requestId = 'req-1'): Record<string, unknown> {
  const req = { requestId, caller: 'arn:aws-cn:sts::111122223333:assumed-role/team-search/alice', method: 'POST', path: '/v1/chat/completions', headers: {} } as unknown as GatewayRequest;
  const outcome: Outcome = {
    route: 'chat.completions',
    servedBy: 'bedrock',
    fallbacks: 0,
    model: 'nova-lite',
    status: 200,
    stream: true,
    inputTokens: 120,
    outputTokens: 45,
    cachedTokens: 100,
    crossBorder: true,
    identity: 'arn:aws-cn:iam::111122223333:role/team-search',
    group: 'search',
    cost: { amount: 0.0123, currency: 'CNY' },
    prompt: [{ role: 'user', content: PROMPT }],
    completion: COMPLETION,
    ...overrides,
  };
  return requestLogLine(req, outcome, 812, at, new CallerDimensions());
}

/**
 * What CloudWatch Logs hands a subscription destination: the envelope gzip-compressed; Firehose then
 * gives the processor each record base64-encoded.
 */
function subscriptionRecord(recordId: string, envelope: object) {
  return { recordId, approximateArrivalTimestamp: NOV_3 + 60000, data: gzipSync(Buffer.from(JSON.stringify(envelope))).toString('base64') };
}
const dataMessage = (logGroup: string, messages: { message: string; timestamp: number }[]) => ({
  messageType: 'DATA_MESSAGE',
  owner: '111122223333',
  logGroup,
  logStream: '2026/11/03/[$LATEST]0123456789abcdef',
  subscriptionFilters: ['cnllm-Gateway-UsageLedgerSubscriptionLambda'],
  logEvents: messages.map((m, i) => ({ id: `3791${i}`, timestamp: m.timestamp, message: m.message })),
});
// The message CloudWatch Logs sends once when a subscription is created, to check the destination.
const CONTROL_MESSAGE = { messageType: 'CONTROL_MESSAGE', owner: 'CloudwatchLogs', logGroup: '', logStream: '', subscriptionFilters: [], logEvents: [{ id: '', timestamp: NOV_3, message: 'CWL CONTROL MESSAGE: Checking health of destination Firehose.' }] };

const decode = (data: string) => gunzipSync(Buffer.from(data, 'base64')).toString('utf8');
const linesOf = (data: string) => Buffer.from(data, 'base64').toString('utf8').split('\n').filter((l) => l !== '').map((l) => JSON.parse(l));

describe('usage ledger: the Firehose processor', () => {
  const event: FirehoseTransformationEvent = {
    invocationId: 'inv-1',
    deliveryStreamArn: 'arn:aws-cn:firehose:cn-northwest-1:111122223333:deliverystream/ledger',
    region: 'cn-northwest-1',
    records: [
      subscriptionRecord('lambda-batch', dataMessage('/aws/lambda/cnllm-Gateway', [
        { message: JSON.stringify(requestLine()), timestamp: NOV_3 },
        // Not request lines: the Lambda platform's own lines and a warning of the gateway.
        { message: 'START RequestId: 8f5c Version: $LATEST\n', timestamp: NOV_3 },
        { message: JSON.stringify({ level: 'warn', msg: 'route registry unreadable', prompt: PROMPT }), timestamp: NOV_3 },
        { message: `${JSON.stringify(requestLine({ status: 429, error: 'rate_limit_exceeded', errorMessage: `upstream said: ${PROMPT}`, outputTokens: undefined, cost: undefined }, NOV_3 + 3000, 'req-2'))}\n`, timestamp: NOV_3 + 3000 },
      ])),
      subscriptionRecord('control', CONTROL_MESSAGE),
      subscriptionRecord('door-noise', dataMessage('cnllm-Gateway-StreamingDoorLogs', [{ message: JSON.stringify({ level: 'info', msg: 'draining', inFlight: 3 }), timestamp: NOV_3 }])),
      { recordId: 'garbage', data: Buffer.from('not gzip at all').toString('base64') },
    ],
  };

  test('each subscription envelope becomes JSON lines of ledger records; control messages and other lines are dropped; unreadable records fail to the error prefix', () => {
    const { records } = transform(event, { partitionKeys: false });
    expect(records.map((r) => [r.recordId, r.result])).toEqual([
      ['lambda-batch', 'Ok'],
      ['control', 'Dropped'],
      ['door-noise', 'Dropped'],
      ['garbage', 'ProcessingFailed'],
    ]);
    // A failed record goes back as it came, so the error output holds what Firehose received.
    expect(records[3].data).toBe(event.records[3].data);
    expect(records[0].metadata).toBeUndefined();

    const ledger = linesOf(records[0].data!);
    expect(ledger).toEqual([
      {
        time: '2026-11-03T23:59:58.500Z',
        requestId: 'req-1',
        identity: 'arn:aws-cn:iam::111122223333:role/team-search',
        group: 'search',
        model: 'nova-lite',
        route: 'chat.completions',
        servedBy: 'bedrock',
        crossBorder: true,
        stream: true,
        inputTokens: 120,
        outputTokens: 45,
        cachedTokens: 100,
        cost: 0.0123,
        currency: 'CNY',
        latencyMs: 812,
        status: 200,
        errorCode: null,
      },
      expect.objectContaining({ time: '2026-11-04T00:00:01.500Z', requestId: 'req-2', status: 429, errorCode: 'rate_limit_exceeded', outputTokens: 0, cost: null, currency: null }),
    ]);
    expect(Object.keys(ledger[0])).toEqual([...LEDGER_FIELDS]);
  });

  test('never prompt or completion text, nor error messages (which may quote a request), even with gateway.logContent on', () => {
    const line = requestLine({ errorMessage: `upstream 500: ${PROMPT}` });
    // The request log itself carries the content (logContent on): the projection is what keeps it out.
    expect(JSON.stringify(line)).toContain(PROMPT);
    const { records } = transform({ invocationId: 'inv-2', records: [...event.records, subscriptionRecord('content', dataMessage('/aws/lambda/cnllm-Gateway', [{ message: JSON.stringify(line), timestamp: NOV_3 }]))] }, { partitionKeys: true });
    const written = records.filter((r) => r.result === 'Ok').map((r) => Buffer.from(r.data!, 'base64').toString('utf8')).join('');
    expect(written.split('\n').filter(Boolean)).toHaveLength(3);
    expect(written).not.toContain('secret clause');
    expect(written).not.toMatch(/"(prompt|completion|errorMessage|caller|_aws)"/);
    expect(Object.keys(toLedgerRecord(line, 0)!)).toEqual([...LEDGER_FIELDS]);
  });

  test('with request-day partitioning the processor names the day (UTC) of the batch\'s first request', async () => {
    const { records } = transform(event, { partitionKeys: true });
    expect(records[0].metadata).toEqual({ partitionKeys: { dt: '2026-11-03' } });
    expect(records[1].metadata).toBeUndefined();
    const envBefore = process.env[PARTITION_KEYS_ENV];
    try {
      process.env[PARTITION_KEYS_ENV] = 'true';
      expect((await handler(event)).records[0].metadata).toEqual({ partitionKeys: { dt: '2026-11-03' } });
      process.env[PARTITION_KEYS_ENV] = 'false';
      expect((await handler(event)).records[0].metadata).toBeUndefined();
    } finally {
      if (envBefore === undefined) delete process.env[PARTITION_KEYS_ENV];
      else process.env[PARTITION_KEYS_ENV] = envBefore;
    }
  });

  test('records of the quota module\'s absence: identity falls back to the caller, group to "default"; the event timestamp dates a line without one', () => {
    const line = requestLine({ identity: undefined, group: undefined, cost: undefined });
    delete (line as { _aws?: unknown })._aws;
    expect(toLedgerRecord(line, Date.parse('2026-11-05T10:00:00Z'))).toEqual(
      expect.objectContaining({ identity: 'arn:aws-cn:sts::111122223333:assumed-role/team-search/alice', group: 'default', time: '2026-11-05T10:00:00.000Z', cost: null }),
    );
    expect(toLedgerRecord({ msg: 'draining' }, 0)).toBeUndefined();
    expect(toLedgerRecord('{"msg":"request"}', 0)).toBeUndefined();
  });

  test('an envelope of gzip JSON that is not a subscription message fails rather than vanishing', () => {
    const { records } = transform({ invocationId: 'x', records: [{ recordId: 'r', data: gzipSync(Buffer.from('[1,2]')).toString('base64') }] }, { partitionKeys: false });
    expect(records[0].result).toBe('ProcessingFailed');
    expect(decode(records[0].data!)).toBe('[1,2]');
  });
});

describe('the request log line the ledger reads', () => {
  test('a priced request carries a Cost metric per Group and Currency; an unpriced one none', () => {
    const priced = requestLine();
    const directives = (priced._aws as { CloudWatchMetrics: { Dimensions: string[][]; Metrics: { Name: string }[] }[] }).CloudWatchMetrics;
    expect(directives[1]).toEqual({ Namespace: 'cn-llm-kit/Gateway', Dimensions: [['Group', 'Currency']], Metrics: [{ Name: 'Cost', Unit: 'None' }] });
    expect(priced).toEqual(expect.objectContaining({ Group: 'search', Currency: 'CNY', Cost: 0.0123 }));
    const unpriced = requestLine({ cost: undefined });
    expect((unpriced._aws as { CloudWatchMetrics: unknown[] }).CloudWatchMetrics).toHaveLength(1);
    expect(unpriced).not.toHaveProperty('Cost');
  });
});
