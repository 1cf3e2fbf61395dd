import { Template } from 'aws-cdk-lib/assertions';
import { RouteEntrySchema } from '../../runtime/gateway/route-registry';
import { RUNTIME_CONFIG_ENV } from '../../runtime/gateway/runtime-config';
import { kitApp } from '../helpers/kit-app';
import { resourcesOf } from '../helpers/template';

/**
 * A served model with a LoRA adapter on both platforms: the EC2 boot values and the EKS manifest
 * carry the adapter, the hosts may read only its prefix, the route registry gets an alias per
 * adapter on the same upstream, and the gateway falls back from the adapter to the teacher.
 */
describe('models[].adapters on EC2 and EKS', () => {
  const model = { id: 'Qwen/Qwen2.5-1.5B-Instruct', servedName: 'qwen2.5-1.5b-instruct', parametersBillions: 1.5, adapters: [{ name: 'support-bot', version: 'v3' }] };
  const { kit } = kitApp({ models: [model], 'stacks.vllmEks': 'true' });
  const ec2 = Template.fromStack(kit.vllmEc2!);
  const eks = Template.fromStack(kit.vllmEks!);
  const gateway = Template.fromStack(kit.gateway!);
  const adapterUri = 's3://cnllm-weights-111122223333-cn-northwest-1/adapters/support-bot/v3/';

  const userData = () => {
    const data = resourcesOf(ec2, 'AWS::EC2::LaunchTemplate')[0].Properties.LaunchTemplateData.UserData['Fn::Base64'];
    return typeof data === 'string' ? data : data['Fn::Join'][1].map((p: unknown) => (typeof p === 'string' ? p : '<ref>')).join('');
  };
  const routes = (t: Template) =>
    Object.fromEntries(resourcesOf(t, 'AWS::SSM::Parameter').filter((p) => String(p.Properties.Name).startsWith('/cnllm/routes/')).map((p) => [p.Properties.Name, JSON.parse(typeof p.Properties.Value === 'string' ? p.Properties.Value : p.Properties.Value['Fn::Join'][1].map((x: unknown) => (typeof x === 'string' ? x : 'ref')).join(''))]));

  test('EC2: the boot script copies the adapter and vLLM serves it next to the base model', () => {
    expect(userData()).toContain(`ADAPTERS='support-bot|v3|${adapterUri}|1'`);
    expect(userData()).toContain("LORA_ARGS='--enable-lora --max-loras 1 --max-lora-rank 16 --lora-modules support-bot=/models/adapters/support-bot'");
    expect(userData()).toContain("SERVED_MODEL_NAME='qwen2.5-1.5b-instruct'");
  });

  test('EC2 and EKS hosts may read the adapter\'s prefix, and no other adapter\'s', () => {
    for (const t of [ec2, eks]) {
      const statements = resourcesOf(t, 'AWS::IAM::Policy').flatMap((p) => p.Properties.PolicyDocument.Statement);
      const reads = statements.filter((s) => s.Action === 's3:GetObject').flatMap((s) => [s.Resource].flat());
      expect(reads).toContain('arn:aws-cn:s3:::cnllm-weights-111122223333-cn-northwest-1/adapters/support-bot/v3/*');
      expect(reads.filter((r: string) => r.includes('/adapters/'))).toHaveLength(1);
    }
  });

  test('EKS: the manifest\'s vLLM arguments and init container carry the adapter', () => {
    const manifest = JSON.stringify(resourcesOf(eks, 'Custom::AWSCDK-EKS-KubernetesResource').map((r) => r.Properties.Manifest));
    expect(manifest).toContain('--enable-lora');
    expect(manifest).toContain('support-bot=/models/adapters/support-bot');
    expect(manifest).toContain(`${adapterUri} /models/adapters/support-bot`);
  });

  test('the route registry: the adapter is an alias of its own on its base model\'s upstream, on each platform', () => {
    const onEc2 = routes(ec2);
    const base = RouteEntrySchema.parse(onEc2['/cnllm/routes/qwen2.5-1.5b-instruct']);
    const adapter = RouteEntrySchema.parse(onEc2['/cnllm/routes/support-bot']);
    expect(adapter).toEqual({ ...base, alias: 'support-bot', servedName: 'support-bot', routeName: 'vllm-qwen2.5-1.5b-instruct-lora-support-bot' });
    const onEks = routes(eks);
    expect(RouteEntrySchema.parse(onEks['/cnllm/routes/eks/support-bot'])).toEqual(expect.objectContaining({ alias: 'eks/support-bot', servedName: 'support-bot', platform: 'eks', routeName: 'vllm-eks-qwen2.5-1.5b-instruct-lora-support-bot' }));
  });

  test('the gateway falls back from the adapter to the teacher', () => {
    const [fn] = resourcesOf(gateway, 'AWS::Lambda::Function').filter((f) => f.Properties.Environment?.Variables?.[RUNTIME_CONFIG_ENV]);
    const raw = fn.Properties.Environment.Variables[RUNTIME_CONFIG_ENV];
    const settings = JSON.parse(typeof raw === 'string' ? raw : raw['Fn::Join'][1].map((x: unknown) => (typeof x === 'string' ? x : 'ref')).join(''));
    expect(settings.fallbacks).toEqual({ 'support-bot': ['nova-pro'], 'eks/support-bot': ['nova-pro'] });
  });
});
