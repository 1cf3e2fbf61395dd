import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { CfnResource, Stack, Validations } from 'aws-cdk-lib';
import * as apigw from 'aws-cdk-lib/aws-apigateway';
import { Match, Template } from 'aws-cdk-lib/assertions';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as s3 from 'aws-cdk-lib/aws-s3';
import { CHINA_RULES } from '../lib/checks/china-region-checks';
import { buildStackReports, writeStackReports } from '../lib/checks/compliance-report';
import { checkChinaPartition } from './helpers/partition';
import { kitApp } from './helpers/kit-app';
import * as logs from 'aws-cdk-lib/aws-logs';
import { referencedStacks } from './helpers/template';

describe('the app with the embedded default config', () => {
  const { app, kit, ledger } = kitApp();
  const assembly = app.synth();

  const chinaStacks = ['cnllm-Network', 'cnllm-ModelStore', 'cnllm-Gateway', 'cnllm-VllmEc2'];

  test('synthesizes every enabled stack offline: China stacks in cn-northwest-1, Bedrock access in the global account', () => {
    expect(kit.stacks.map((s) => s.stackName)).toEqual(['cnllm-Network', 'cnllm-ModelStore', 'cnllm-BedrockAccess', 'cnllm-Gateway', 'cnllm-VllmEc2']);
    for (const stack of assembly.stacks) {
      const expected = chinaStacks.includes(stack.stackName) ? { account: '111122223333', region: 'cn-northwest-1' } : { account: '444455556666', region: 'us-east-1' };
      expect(stack.environment).toEqual(expect.objectContaining(expected));
    }
    expect(assembly.manifest.missing).toBeUndefined();
  });

  test('no China template holds a global-partition ARN; the global template holds no China one', () => {
    for (const stack of assembly.stacks.filter((s) => chinaStacks.includes(s.stackName))) {
      const { arns, wrong } = checkChinaPartition(stack.template, { region: 'cn-northwest-1', account: '111122223333', globalAccounts: ['444455556666'] });
      expect(arns.length).toBeGreaterThan(0);
      expect(wrong).toEqual([]);
    }
    const global = JSON.stringify(assembly.getStackByName('cnllm-BedrockAccess').template);
    expect(global).not.toContain('arn:aws-cn:');
    expect(global).toContain('arn:aws:bedrock:us-east-1:444455556666:inference-profile/');
  });

  test('acknowledgements only where a China or AWS constraint leaves no fix, each with its reason', () => {
    const reports = buildStackReports(ledger, kit.stacks.map((s) => s.stackName));
    expect(reports.map((r) => [r.stackName, r.unacknowledged])).toEqual(kit.stacks.map((s) => [s.stackName, 0]));
    expect(reports.filter((r) => r.acknowledged > 0).map((r) => r.stackName)).toEqual(['cnllm-ModelStore', 'cnllm-Gateway', 'cnllm-VllmEc2']);
    const acksOf = (stackName: string) => ledger.evaluations.filter((e) => e.stackName === stackName && e.outcome === 'acknowledged' && !ledger.isInformational(e.pack));
    expect(acksOf('cnllm-ModelStore').map((e) => `${e.ruleId}[${e.finding ?? ''}]`).sort()).toEqual([
      'AwsSolutions-CB5[]',
      'AwsSolutions-IAM5[Resource::*]',
      'AwsSolutions-IAM5[Resource::arn:aws-cn:s3:::cnllm-weights-111122223333-cn-northwest-1/models/*]',
    ]);
    const gatewayAcks = acksOf('cnllm-Gateway');
    expect([...new Set(gatewayAcks.map((e) => e.ruleId))].sort()).toEqual(['AwsSolutions-COG4', 'AwsSolutions-IAM4', 'AwsSolutions-IAM5', 'AwsSolutions-L1', 'AwsSolutions-SMG4']);
    for (const ack of gatewayAcks) expect(ack.reason).toMatch(/China|partition|EC2 supports no resource-level|API Gateway names itself|by the name prefix cnllm\/vllm\/ they all use|names each object itself/);
    const vllmAcks = acksOf('cnllm-VllmEc2');
    expect(vllmAcks.map((e) => `${e.ruleId}[${e.finding ?? ''}]`).sort()).toEqual([
      'AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/AmazonSSMManagedInstanceCore]',
      'AwsSolutions-IAM5[Resource::*]',
      'AwsSolutions-IAM5[Resource::arn:aws-cn:s3:::cnllm-weights-111122223333-cn-northwest-1/models/Qwen/Qwen2.5-1.5B-Instruct/master/*]',
      'AwsSolutions-SMG4[]',
    ]);
    for (const ack of vllmAcks) expect(ack.reason).toMatch(/Session Manager|no resource-level permissions|own prefix|reads its API key once/);
  });

  test('the compliance report lists every rule of both packs, findings, and acknowledgements with reasons', () => {
    const reports = buildStackReports(ledger, kit.stacks.map((s) => s.stackName));
    const store = reports.find((r) => r.stackName === 'cnllm-ModelStore')!;
    expect(store.markdown).toContain('**Result: PASS**');
    // Each rule as what it checks, with its counts; only the rules that applied to the stack, the rest as one count.
    expect(store.markdown).toMatch(/\| ChinaRegion \| ChinaRegion-NoGlobalPartitionArn \| [^|]*global[^|]* \| Error \| \d+ \| 0 \| 0 \|/);
    expect(store.markdown).toMatch(/\| AwsSolutions \| AwsSolutions-S10 \| The S3 Bucket or bucket policy does not require requests to use SSL\. \| Error \| 4 \| 0 \| 0 \|/);
    expect(store.markdown).not.toContain('| ChinaRegion-NoEdgeEndpoint |');
    expect(store.markdown).toMatch(/\n\d+ further rules ran and applied to no resource of this stack \(AwsSolutions \d+, ChinaRegion \d+, NIST\.800\.53\.R5 \d+\); the CSV lists them\./);
    expect(store.markdown).toContain('Template validity is checked separately');
    expect(store.csv.split('\n')[0]).toBe('stack,pack,rule,level,resource,outcome,finding,reason');
    expect(store.csv).toContain('cnllm-ModelStore,AwsSolutions,AwsSolutions-S10,Error,cnllm-ModelStore/Weights/Policy/Resource,compliant,,');
    // Every rule that ran appears in the CSV too, as a row per resource it applied to or one "not-applicable" row.
    const csvRules = new Set(store.csv.trim().split('\n').slice(1).map((row) => row.split(',')[2]));
    expect(csvRules).toEqual(new Set(ledger.rules.map((r) => r.ruleId)));
    expect([...csvRules].filter((r) => r.startsWith('ChinaRegion-'))).toHaveLength(CHINA_RULES.length);
    expect([...csvRules].filter((r) => r.startsWith('AwsSolutions-')).length).toBeGreaterThan(100);

    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'cnllm-report-'));
    writeStackReports(reports, dir);
    expect(fs.readdirSync(dir).sort()).toEqual([
      'README.md',
      'cnllm-BedrockAccess.csv',
      'cnllm-BedrockAccess.md',
      'cnllm-Gateway.csv',
      'cnllm-Gateway.md',
      'cnllm-ModelStore.csv',
      'cnllm-ModelStore.md',
      'cnllm-Network.csv',
      'cnllm-Network.md',
      'cnllm-VllmEc2.csv',
      'cnllm-VllmEc2.md',
    ]);
    expect(fs.readFileSync(path.join(dir, 'README.md'), 'utf8')).toContain('| cnllm-Network | PASS | 0 | 0 |');
  });

  test('NIST 800-53 rev 5 is informational: open findings are reported and never fail synth or the result; the default kit leaves none open', () => {
    // The default kit: every NIST finding fixed or acknowledged with its reason.
    expect(ledger.evaluations.filter((e) => e.pack === 'NIST.800.53.R5' && e.outcome === 'non-compliant').map((e) => `${e.ruleId} ${e.resourcePath}`)).toEqual([]);
    // A resource only NIST flags (a log group without a key or retention): reported as informational, the stack still passes.
    const withOpen = kitApp();
    new logs.LogGroup(withOpen.kit.network!, 'PlainLogGroupForTest', { retention: logs.RetentionDays.INFINITE });
    withOpen.app.synth();
    const network = buildStackReports(withOpen.ledger, ['cnllm-Network'])[0];
    const nistOpen = withOpen.ledger.evaluations.filter((e) => e.pack === 'NIST.800.53.R5' && e.stackName === 'cnllm-Network' && e.outcome === 'non-compliant');
    expect(nistOpen.length).toBeGreaterThan(0);
    expect([network.unacknowledged, network.informational]).toEqual([0, nistOpen.length]);
    expect(network.markdown).toContain('**Result: PASS**');
    expect(network.markdown).toContain('## Informational: NIST.800.53.R5');
    const gateway = buildStackReports(ledger, ['cnllm-Gateway'])[0];
    // Findings the kit leaves open by design carry their reason; the Lambda has no DLQ because API Gateway invokes it synchronously.
    expect(gateway.markdown).toMatch(/\| NIST\.800\.53\.R5-LambdaDLQ \| [^|]+ \| cnllm-Gateway\/Gateway\/Function\/Resource \|  \| Invoked synchronously/);
    const secretAck = ledger.evaluations.find((e) => e.ruleId === 'NIST.800.53.R5-SecretsManagerRotationEnabled' && e.resourcePath.startsWith('cnllm-VllmEc2/ApiKey-'))!;
    expect(secretAck).toEqual(expect.objectContaining({ outcome: 'acknowledged', reason: expect.stringMatching(/reads its API key once at start/) }));
  });

  test('config tags and the prefix tag reach the resources', () => {
    const tagged = kitApp({ tags: '{"cost-center":"ml-platform"}' });
    Template.fromStack(tagged.kit.modelStore!).hasResourceProperties('AWS::S3::Bucket', {
      Tags: Match.arrayWith([
        { Key: 'cn-llm-kit:prefix', Value: 'cnllm' },
        { Key: 'cost-center', Value: 'ml-platform' },
      ]),
    });
  });
});

describe('deploying one stack deploys only that stack: the gateway and the vLLM stacks never reference each other', () => {
  /** Every way a stack can wait for another: CDK's dependencies (cdk deploy <stack> deploys these first) and values read from its template. */
  const ties = (stack: Stack, template: object) => [...stack.dependencies.map((d) => d.stackName), ...referencedStacks(template)];

  test.each([
    ['the default config', {}],
    ['EKS on too', { 'stacks.vllmEks': 'true' }],
    ['EKS alone, with the streaming door', { 'stacks.vllmEc2': 'false', 'stacks.vllmEks': 'true', 'gateway.streamingDoor.enabled': 'true' }],
  ])('%s', (_, context) => {
    const { app, kit } = kitApp(context);
    const assembly = app.synth();
    const vllmStacks: Stack[] = [kit.vllmEc2, kit.vllmEks].filter((s) => s !== undefined);
    expect(vllmStacks.length).toBeGreaterThan(0);
    const gatewayTies = ties(kit.gateway!, assembly.getStackByName('cnllm-Gateway').template);
    expect(gatewayTies.filter((t) => /Vllm/.test(t))).toEqual([]);
    expect(JSON.stringify(assembly.getStackByName('cnllm-Gateway').template)).not.toMatch(/cnllm-Vllm|VllmEc2|VllmEks/);
    for (const stack of vllmStacks) {
      expect(ties(stack, assembly.getStackByName(stack.stackName).template).filter((t) => /Gateway/.test(t))).toEqual([]);
      // The manifest the CLI orders deploys by agrees.
      expect(assembly.getStackByName(stack.stackName).dependencies.map((d) => d.id)).not.toContain('cnllm-Gateway');
    }
    expect(assembly.getStackByName('cnllm-Gateway').dependencies.map((d) => d.id).filter((id) => /Vllm/.test(id))).toEqual([]);
  });
});

describe('acknowledgements', () => {
  test('an acknowledged finding passes synth and is reported with its resource, finding and reason', () => {
    const { app, kit, ledger } = kitApp();
    const role = new iam.Role(kit.modelStore!, 'Reader', { assumedBy: new iam.ServicePrincipal('ec2.amazonaws.com') });
    role.addToPolicy(new iam.PolicyStatement({ actions: ['ec2:DescribeInstances'], resources: ['*'] }));
    Validations.of(role).acknowledge({ id: 'AwsSolutions-IAM5[Resource::*]', reason: 'ec2:DescribeInstances has no resource-level permissions.' });
    expect(() => app.synth()).not.toThrow();
    const [store] = buildStackReports(ledger, ['cnllm-ModelStore']);
    // The default model store's three (staging project), plus this one.
    expect(store.acknowledged).toBe(4);
    expect(store.markdown).toContain(
      '| AwsSolutions-IAM5 | cnllm-ModelStore/Reader/DefaultPolicy/Resource | Resource::* | ec2:DescribeInstances has no resource-level permissions. |',
    );
    expect(store.csv).toContain(
      'cnllm-ModelStore,AwsSolutions,AwsSolutions-IAM5,Error,cnllm-ModelStore/Reader/DefaultPolicy/Resource,acknowledged,Resource::*,ec2:DescribeInstances has no resource-level permissions.',
    );
  });
});

describe('stack switches', () => {
  test('a disabled stack is not synthesized', () => {
    const { kit, app } = kitApp({ 'stacks.modelStore': 'false', 'stacks.bedrockAccess': 'false', 'stacks.vllmEc2': 'false' });
    expect(kit.stacks.map((s) => s.stackName)).toEqual(['cnllm-Network', 'cnllm-Gateway']);
    expect(app.synth().stacks.map((s) => s.stackName).sort()).toEqual(['cnllm-Gateway', 'cnllm-Network']);
  });

  test('stacks that need others say so', () => {
    expect(() => kitApp({ 'stacks.network': 'false', 'stacks.vllmEc2': 'false' })).toThrow(/stacks\.gateway = true: the gateway runs in the kit's VPC; enable stacks\.network too/);
    expect(() => kitApp({ 'stacks.modelStore': 'false' })).toThrow(/stacks\.vllmEc2 = true: vLLM on EC2 needs the kit's network and model store/);
  });

  test('the prefix names stacks and exports', () => {
    const { kit } = kitApp({ prefix: 'team-a' });
    expect(kit.stacks.map((s) => s.stackName)).toEqual(['team-a-Network', 'team-a-ModelStore', 'team-a-BedrockAccess', 'team-a-Gateway', 'team-a-VllmEc2']);
  });
});

describe('date-bound checks', () => {
  const onDay = (checksDate: string) => kitApp({ 'stacks.vllmEc2': 'false', 'stacks.modelStore': 'false' }, { checksDate });

  test('the kit judges its Lambda runtimes on the checks date: the default nodejs22.x passes on the tests\' date; from its deprecation day it warns, and a warning does not stop synth', () => {
    const deprecated = (checksDate: string) => {
      const { app, ledger } = onDay(checksDate);
      app.synth();
      return ledger.evaluations.filter((e) => e.ruleId === 'ChinaRegion-LambdaRuntimeDeprecated' && e.outcome === 'non-compliant').map((e) => e.resourcePath);
    };
    expect(deprecated('2026-12-02')).toEqual([]);
    expect(deprecated('2027-04-30')).toContain('cnllm-Gateway/Gateway/Function/Resource');
  });

  test('once Lambda refuses to create functions on the runtime, synth stops (the deploy would fail)', () => {
    expect(() => onDay('2027-06-01').app.synth()).toThrow(/LambdaRuntimeCreationBlocked/);
  });
});

describe('checks fail synth', () => {
  test('an unacknowledged ChinaRegion finding stops synth and names the rule and resource', () => {
    const { app, kit } = kitApp();
    new apigw.CfnRestApi(kit.network!, 'EdgeApi', { name: 'edge' });
    expect(() => app.synth()).toThrow(/cnllm-Network\/EdgeApi[\s\S]*ChinaRegion-NoEdgeEndpoint/);
  });

  test('an unacknowledged AwsSolutions finding stops synth', () => {
    const { app, kit } = kitApp();
    new s3.CfnBucket(kit.modelStore!, 'PlainBucket');
    expect(() => app.synth()).toThrow(/AwsSolutions-S1/);
  });

  test('aws-cdk-lib\'s offline CloudFormation validation stops synth on an invalid template', () => {
    const { app, kit } = kitApp();
    const stack: Stack = kit.modelStore!;
    new CfnResource(stack, 'BadKey', { type: 'AWS::KMS::Key', properties: { EnableKeyRotation: 'sometimes', KeySpec: 'NOT_A_SPEC' } });
    expect(() => app.synth()).toThrow(/CloudFormation Validate/);
  });
});
