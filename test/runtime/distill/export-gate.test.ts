import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { layout, parsePrompts, toJsonl } from '../../../runtime/distill/dataset';
import { ExportRefused, teacherIsCrossBorder } from '../../../runtime/distill/export-gate';
import { GatewayClient } from '../../../runtime/distill/gateway-client';
import { isLuhnValid, isResidentId, PiiMasker } from '../../../runtime/distill/pii-mask';
import { exportStep } from '../../../runtime/distill/pipeline';
import { LocalDirStorage } from '../../../runtime/distill/storage';
import { LocalGateway } from '../../../runtime/local/local-gateway';
import { startDistillGateway } from '../../../scripts/local/distill-gateway';
import { BedrockFake } from '../../fakes/bedrock-fake';
import { OpenAiUpstreamFake } from '../../fakes/openai-upstream-fake';

const RESIDENT_ID = '11010519491231002X';
const CARD = '6222021234567890128';
const PERSONAL = `我是张三，身份证号${RESIDENT_ID}，手机 +86 138 1234 5678，备用13912345678，工资卡 ${CARD}，邮箱 zhang.san@example.com.cn。`;

describe('PII masking before export', () => {
  test('masks each kind, counts it, and keeps the rest of the text', () => {
    const counts: Record<string, number> = {};
    const masked = new PiiMasker().maskText(PERSONAL, counts);
    expect(masked).toBe('我是张三，身份证号[ID_NUMBER]，手机 [PHONE]，备用[PHONE]，工资卡 [BANK_CARD]，邮箱 [EMAIL]。');
    expect(counts).toEqual({ resident_id: 1, mobile: 2, bank_card: 1, email: 1 });
  });

  test('ID numbers need a real birth date and the MOD 11-2 check character; cards need Luhn', () => {
    expect(isResidentId(RESIDENT_ID)).toBe(true);
    expect(isResidentId('11010519491231002x')).toBe(true);
    expect(isResidentId('110105194912310021')).toBe(false); // wrong check character
    expect(isResidentId('110105194913310023')).toBe(false); // month 13
    expect(isLuhnValid('4111 1111 1111 1111')).toBe(true);
    expect(isLuhnValid('4111111111111112')).toBe(false);
  });

  test('no false positives on ordinary numbers: orders, prices, timestamps, years, short numbers', () => {
    const ordinary = '订单号 202606011234567890 已发货，金额 12999.00 元，时间戳 1717171717171，2026年6月1日，分机 8001，编号 110105194912310021，流水 4111111111111112，版本 v1.13.0，座机 010-12345678';
    expect(isResidentId('202606011234567890')).toBe(false);
    expect(isLuhnValid('202606011234567890')).toBe(false);
    const counts: Record<string, number> = {};
    expect(new PiiMasker().maskText(ordinary, counts)).toBe(ordinary);
    expect(counts).toEqual({});
  });

  test('a number inside a longer digit run is not a phone number', () => {
    const counts: Record<string, number> = {};
    expect(new PiiMasker().maskText('交易号 9913812345678001', counts)).toBe('交易号 9913812345678001');
  });

  test('extra patterns from the operator apply after the built-in ones; a bad one fails naming it', () => {
    const counts: Record<string, number> = {};
    const masker = new PiiMasker([{ kind: 'employee_id', pattern: 'EMP-\\d{6}' }]);
    expect(masker.maskText('工号 EMP-004211 联系 a@b.cn', counts)).toBe('工号 [EMPLOYEE_ID] 联系 [EMAIL]');
    expect(counts).toEqual({ employee_id: 1, email: 1 });
    expect(() => new PiiMasker([{ kind: 'broken', pattern: '(' }])).toThrow(/"broken" is not a valid regular expression/);
    expect(() => new PiiMasker([{ kind: 'empty', pattern: 'x*' }])).toThrow(/"empty" matches the empty string/);
  });

  test('text parts of multi-part messages are masked, other parts left alone', () => {
    const counts: Record<string, number> = {};
    const masked = new PiiMasker().maskMessage({ role: 'user', content: [{ type: 'text', text: `call 13912345678` }, { type: 'image_url', image_url: { url: 'data:image/png;base64,13912345678' } }] }, counts);
    expect(masked.content).toEqual([{ type: 'text', text: 'call [PHONE]' }, { type: 'image_url', image_url: { url: 'data:image/png;base64,13912345678' } }]);
  });
});

describe('export gate against the kit gateway (GET /v1/models cross_border)', () => {
  let bedrock: BedrockFake;
  let domestic: OpenAiUpstreamFake;
  let gateway: LocalGateway;
  let client: GatewayClient;
  let dir: string;
  const dataset = { name: 'support', version: 'v1' };
  const prompts = [{ id: 'p1', messages: [{ role: 'user', content: PERSONAL }] }, { id: 'p2', messages: [{ role: 'system', content: '客服' }, { role: 'user', content: '退货政策是什么？' }] }];

  beforeAll(async () => {
    [bedrock, domestic] = await Promise.all([new BedrockFake().start(), new OpenAiUpstreamFake('qwen', '').start()]);
    gateway = await startDistillGateway({ bedrockEndpoint: bedrock.url, providers: [{ name: 'cn-provider', baseUrl: `${domestic.url}/v1`, alias: 'qwen-max', crossBorder: false }], log: () => undefined });
    client = new GatewayClient({ baseUrl: `${gateway.url}/v1` });
  });
  afterAll(async () => {
    await gateway.close();
    await Promise.all([bedrock.stop(), domestic.stop()]);
  });
  beforeEach(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'cnllm-export-'));
  });

  const storageWith = (manifest: object | undefined) => {
    const storage = new LocalDirStorage(dir);
    fs.mkdirSync(path.join(dir, path.dirname(layout.prompts(dataset))), { recursive: true });
    fs.writeFileSync(path.join(dir, layout.prompts(dataset)), toJsonl(prompts));
    if (manifest) fs.writeFileSync(path.join(dir, layout.manifest(dataset)), JSON.stringify(manifest));
    return storage;
  };

  test('the gateway says which teacher is cross-border; an unknown alias is refused', async () => {
    await expect(teacherIsCrossBorder(client, 'nova-lite')).resolves.toBe(true);
    await expect(teacherIsCrossBorder(client, 'qwen-max')).resolves.toBe(false);
    await expect(teacherIsCrossBorder(client, 'gpt-9')).rejects.toThrow(/teacher "gpt-9" is not served by the gateway/);
  });

  test('a cross-border teacher without exportAllowed is refused, naming the dataset and the flag, and nothing is exported', async () => {
    const storage = storageWith({ exportAllowed: false, description: 'tickets' });
    const run = { storage, runId: 'r1', gateway: client, teacher: 'nova-lite' };
    const refusal = exportStep(run, dataset);
    await expect(refusal).rejects.toBeInstanceOf(ExportRefused);
    await expect(exportStep(run, dataset)).rejects.toThrow(/dataset support\/v1 may not leave mainland China: teacher "nova-lite" is served outside China and .*manifest\.json has exportAllowed: false/);
    expect(fs.existsSync(path.join(dir, layout.exportedPrompts('r1')))).toBe(false);
  });

  test('a dataset without a manifest is refused with the fix', async () => {
    const storage = storageWith(undefined);
    await expect(exportStep({ storage, runId: 'r1', gateway: client, teacher: 'nova-lite' }, dataset)).rejects.toThrow(/has no manifest .* write \{"exportAllowed": false/);
  });

  test('with exportAllowed, the prompts leave masked and the export log has counts but no raw value', async () => {
    const storage = storageWith({ exportAllowed: true });
    const log = await exportStep({ storage, runId: 'r2', gateway: client, teacher: 'nova-lite' }, dataset);
    expect(log).toEqual(expect.objectContaining({ dataset: 'support', version: 'v1', teacher: 'nova-lite', crossBorder: true, exported: true, prompts: 2, maskedTotal: 5, masked: { resident_id: 1, mobile: 2, bank_card: 1, email: 1 } }));
    const exported = fs.readFileSync(path.join(dir, layout.exportedPrompts('r2')), 'utf8');
    const logText = fs.readFileSync(path.join(dir, layout.exportLog('r2')), 'utf8');
    for (const raw of [RESIDENT_ID, CARD, '13912345678', '138 1234 5678', 'zhang.san@example.com.cn']) {
      expect(exported).not.toContain(raw);
      expect(logText).not.toContain(raw);
    }
    expect(parsePrompts(exported, 'export')[0].messages[0].content).toContain('[ID_NUMBER]');
    expect(JSON.parse(logText).time).toMatch(/^\d{4}-\d\d-\d\dT/);
  });

  test('the manifest adds the dataset\'s own patterns; a broken one fails the export naming it', async () => {
    const storage = storageWith({ exportAllowed: true, maskPatterns: [{ kind: 'order_no', pattern: '退货政策', replacement: '[POLICY]' }] });
    const log = await exportStep({ storage, runId: 'r4', gateway: client, teacher: 'nova-lite' }, dataset);
    expect(log.masked).toEqual(expect.objectContaining({ order_no: 1, resident_id: 1 }));
    expect(fs.readFileSync(path.join(dir, layout.exportedPrompts('r4')), 'utf8')).toContain('[POLICY]是什么');
    const broken = storageWith({ exportAllowed: true, maskPatterns: [{ kind: 'bad', pattern: '[' }] });
    await expect(exportStep({ storage: broken, runId: 'r5', gateway: client, teacher: 'nova-lite' }, dataset)).rejects.toThrow(/extra PII pattern "bad" is not a valid regular expression/);
    const wrongFlag = storageWith({ exportAllowed: 'yes' });
    await expect(exportStep({ storage: wrongFlag, runId: 'r6', gateway: client, teacher: 'nova-lite' }, dataset)).rejects.toThrow(/manifest\.json: exportAllowed must be true or false/);
  });

  test('a China-only teacher needs no export flag and gets the prompts as written', async () => {
    const storage = storageWith({ exportAllowed: false });
    const log = await exportStep({ storage, runId: 'r3', gateway: client, teacher: 'qwen-max' }, dataset);
    expect(log).toEqual(expect.objectContaining({ crossBorder: false, exported: false, maskedTotal: 0 }));
    expect(fs.readFileSync(path.join(dir, layout.exportedPrompts('r3')), 'utf8')).toContain(RESIDENT_ID);
  });
});
