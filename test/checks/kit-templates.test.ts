import * as fs from 'fs';
import * as path from 'path';
import { CloudAssembly } from 'aws-cdk-lib/cx-api';
import { TAG_LAGGING_TYPES } from '../../lib/china/cfn-registry';
import { templateProblems } from '../../lib/checks/template-format-checks';
import { kitApp } from '../helpers/kit-app';

/**
 * The kit's own templates, synthesized the way `cdk synth` does for each configuration the issue
 * names, pass the template checks (which run inside every synth and would throw).
 */

const CONFIG_DIR = path.join(__dirname, '..', '..', 'config');
const CONFIGS: [string, Record<string, unknown>][] = [
  ['the embedded default config', {}],
  ...fs.readdirSync(CONFIG_DIR).filter((f) => f.endsWith('.json')).map((f): [string, Record<string, unknown>] => [`config/${f}`, { config: path.join(CONFIG_DIR, f) }]),
  ['-c stacks.vllmEks=true', { 'stacks.vllmEks': 'true' }],
  ['-c gateway.streamingDoor.enabled=true', { 'gateway.streamingDoor.enabled': 'true' }],
  ['-c china.region=cn-north-1', { 'china.region': 'cn-north-1' }],
  ['-c stacks.agents=true', { 'stacks.agents': 'true' }],
  ['-c stacks.distill=true', { 'stacks.distill': 'true' }],
  // Every optional feature at once, in each region and each internal TLS mode: what a region-aware
  // validator (cfn-lint with the cn-* schemas) was run on; the template checks must hold for all of it.
  [
    'every optional feature, cn-northwest-1, private CA, agents on AgentCore (supervisor)',
    {
      'stacks.vllmEks': 'true',
      'stacks.agents': 'true',
      'stacks.distill': 'true',
      models: [{ id: 'Qwen/Qwen2.5-1.5B-Instruct', servedName: 'qwen2.5-1.5b-instruct', parametersBillions: 1.5, adapters: [{ name: 'support-bot', version: 'v3' }] }],
      'gateway.streamingDoor.enabled': 'true',
      'gateway.streamingDoor.auth': 'BOTH',
      'bedrock.invocationLogging': 'true',
      'quotas.groups': JSON.stringify({ 'team-a': { monthlyBudget: 5000, perIdentity: { tokensPerMinute: 20000 } } }),
      'quotas.prices': JSON.stringify({ 'nova-lite': { input: 0.5, output: 2, currency: 'CNY' } }),
      'alarms.email': 'ops@example.com',
      'routing.providers': JSON.stringify([{ name: 'dashscope', baseUrl: 'https://dashscope.aliyuncs.com/compatible-mode/v1', models: [{ alias: 'qwen-max', model: 'qwen-max' }] }]),
    },
  ],
  [
    'every optional feature, cn-north-1, own certificates, agents on Fargate (routing), AL2023 GPU nodes, request-day ledger',
    {
      'china.region': 'cn-north-1',
      'stacks.vllmEks': 'true',
      'stacks.agents': 'true',
      'stacks.distill': 'true',
      'gateway.endpointType': 'PRIVATE',
      'gateway.streamingDoor.enabled': 'true',
      'gateway.streamingDoor.auth': 'BOTH',
      'gateway.streamingDoor.certificateArn': 'arn:aws-cn:acm:cn-north-1:111122223333:certificate/0a1b2c3d-1111-2222-3333-777788889999',
      'vllmEc2.certificateArn': 'arn:aws-cn:acm:cn-north-1:111122223333:certificate/0a1b2c3d-1111-2222-3333-444455556666',
      'agents.fargate.certificateArn': 'arn:aws-cn:acm:cn-north-1:111122223333:certificate/0a1b2c3d-1111-2222-3333-aaaabbbbcccc',
      'internalTls.mode': 'certificate',
      'vllmEks.gpuAmi': 'AL2023',
      'modelStore.repositories': 'vllm,tools,node,awscli,deviceplugin,training',
      'quotas.enabled': 'true',
      'ledger.partitionBy': 'request-day',
      'agents.mode': 'routing',
      'agents.platform': 'fargate',
      'agents.egress': 'vpc-only',
      'distill.training.image': 'mirror',
    },
  ],
];

const resourcesOfType = (template: Record<string, any>, type: string) => Object.values<any>(template.Resources).filter((r) => r.Type === type);

describe('every template the kit synthesizes passes the template checks', () => {
  // CDK's own built-in CloudFormation validator (a WebAssembly engine, most of synth time) runs in
  // every other synth of the suite; switching it off here keeps six full syntheses affordable.
  const cdkValidation = process.env.CDK_VALIDATION;
  beforeAll(() => (process.env.CDK_VALIDATION = 'false'));
  afterAll(() => (cdkValidation === undefined ? delete process.env.CDK_VALIDATION : (process.env.CDK_VALIDATION = cdkValidation)));

  const assemblies = new Map<string, CloudAssembly>();

  test.each(CONFIGS)('%s', (name, context) => {
    const { app } = kitApp(context);
    // Synth runs the template checks as a validation plugin: any problem throws here with its rule and fix.
    const assembly = app.synth();
    expect(assembly.stacks.length).toBeGreaterThan(0);
    for (const stack of assembly.stacks) {
      const body = fs.readFileSync(path.join(assembly.directory, stack.templateFile), 'utf8');
      expect([stack.stackName, templateProblems(stack.template, { region: stack.environment.region, bodyBytes: Buffer.byteLength(body), uploadedToS3: true })]).toEqual([stack.stackName, []]);
    }
    assemblies.set(name, assembly);
  });

  test('app-wide tags skip the types China may refuse them on, and reach the rest', () => {
    const ec2 = assemblies.get('the embedded default config')!.getStackByName('cnllm-VllmEc2').template;
    const [balancer] = resourcesOfType(ec2, 'AWS::ElasticLoadBalancingV2::LoadBalancer');
    expect(balancer.Properties.Tags).toContainEqual({ Key: 'cn-llm-kit:prefix', Value: 'cnllm' });
    expect(resourcesOfType(ec2, 'AWS::ElasticLoadBalancingV2::Listener').length).toBeGreaterThan(0);
    for (const listener of resourcesOfType(ec2, 'AWS::ElasticLoadBalancingV2::Listener')) expect(listener.Properties.Tags).toBeUndefined();
    const door = assemblies.get('-c gateway.streamingDoor.enabled=true')!.getStackByName('cnllm-Gateway').template;
    expect(resourcesOfType(door, 'AWS::ApplicationAutoScaling::ScalableTarget').length).toBeGreaterThan(0);
    for (const target of resourcesOfType(door, 'AWS::ApplicationAutoScaling::ScalableTarget')) expect(target.Properties.Tags).toBeUndefined();
    expect(TAG_LAGGING_TYPES).toEqual(expect.arrayContaining(['AWS::ElasticLoadBalancingV2::Listener', 'AWS::ApplicationAutoScaling::ScalableTarget']));
  });

  test('china.tagLaggingTypes: true tags them too, and the check then accepts those Tags', () => {
    const { app } = kitApp({ 'china.tagLaggingTypes': 'true', 'stacks.gateway': 'false', 'stacks.bedrockAccess': 'false' });
    const ec2 = app.synth().getStackByName('cnllm-VllmEc2').template;
    for (const listener of resourcesOfType(ec2, 'AWS::ElasticLoadBalancingV2::Listener')) expect(listener.Properties.Tags).toContainEqual({ Key: 'cn-llm-kit:prefix', Value: 'cnllm' });
  });
});
