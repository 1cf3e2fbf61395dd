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
