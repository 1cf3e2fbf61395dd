import { Template } from 'aws-cdk-lib/assertions';
import { ConfigError, parseConfig } from '../../lib/config/load';
import { RouteEntrySchema } from '../../runtime/gateway/route-registry';
import { kitApp } from '../helpers/kit-app';
import { resourcesOf } from '../helpers/template';

/** An embedding model and a reranker served by vLLM, on EC2 and EKS at once. */
const MODELS = [
  { id: 'BAAI/bge-m3', servedName: 'bge-m3', parametersBillions: 0.57, task: 'embed' },
  { id: 'BAAI/bge-reranker-v2-m3', servedName: 'bge-reranker-v2-m3', parametersBillions: 0.57, task: 'rerank', vllm: { extraArgs: ['--max-num-seqs=64'] } },
];

const { kit } = kitApp({ models: JSON.stringify(MODELS), 'stacks.vllmEks': 'true' });
const ec2 = Template.fromStack(kit.vllmEc2!);
const eks = Template.fromStack(kit.vllmEks!);

/** The rendered boot script of the launch template serving `servedName`. */
function userDataFor(servedName: string): string {
  const scripts = resourcesOf(ec2, 'AWS::EC2::LaunchTemplate').map((t) => {
    const data = t.Properties.LaunchTemplateData.UserData['Fn::Base64'];
    return typeof data === 'string' ? data : data['Fn::Join'][1].filter((p: unknown) => typeof p === 'string').join('');
  });
  return scripts.find((s) => s.includes(`SERVED_MODEL_NAME='${servedName}'`))!;
}

/** The vLLM container's arguments in the Deployment of `servedName`. */
function podArgsFor(servedName: string): string[] {
  const manifests = resourcesOf(eks, 'Custom::AWSCDK-EKS-KubernetesResource').flatMap((r) => {
    const m = r.Properties.Manifest;
    return JSON.parse(typeof m === 'string' ? m : m['Fn::Join'][1].map((p: unknown) => (typeof p === 'string' ? p : 'TOKEN')).join(''));
  });
  const deployment = manifests.find((m: any) => m.kind === 'Deployment' && m.metadata.labels['app.kubernetes.io/instance'] === servedName);
  return deployment.spec.template.spec.containers[0].args;
}

/** The registry entry a stack writes for `alias`. */
function registered(t: Template, alias: string) {
  const parameter = resourcesOf(t, 'AWS::SSM::Parameter').find((p) => p.Properties.Name === `/cnllm/routes/${alias}`)!.Properties;
  const text = parameter.Value['Fn::Join'][1].map((p: unknown) => (typeof p === 'string' ? p : 'https://x')).join('');
  return RouteEntrySchema.parse(JSON.parse(text.replace(/"baseUrl":"[^"]*"/, '"baseUrl":"https://lb.internal/v1"')));
}

describe('self-hosted embedding and rerank models (models[].task)', () => {
  test('EC2: vLLM starts with --task embed / --task score ahead of the model\'s own extra arguments', () => {
    expect(userDataFor('bge-m3')).toContain("EXTRA_ARGS='--task embed'");
    expect(userDataFor('bge-reranker-v2-m3')).toContain("EXTRA_ARGS='--task score --max-num-seqs=64'");
  });

  test('EKS: the pod runs vLLM with the same arguments', () => {
    expect(podArgsFor('bge-m3')).toEqual(expect.arrayContaining(['--served-model-name', 'bge-m3']));
    expect(podArgsFor('bge-m3').slice(-2)).toEqual(['--task', 'embed']);
    expect(podArgsFor('bge-reranker-v2-m3').slice(-3)).toEqual(['--task', 'score', '--max-num-seqs=64']);
  });

  test('both platforms register each route with its kind, so the gateway sends /v1/embeddings and /v1/rerank to them', () => {
    expect(registered(ec2, 'bge-m3').modelKind).toBe('embed');
    expect(registered(ec2, 'bge-reranker-v2-m3').modelKind).toBe('rerank');
    expect(registered(eks, 'eks/bge-m3').modelKind).toBe('embed');
    expect(registered(eks, 'eks/bge-reranker-v2-m3').modelKind).toBe('rerank');
  });

  test('the default task is generate: no --task, registered as chat', () => {
    const { kit: chat } = kitApp();
    const data = resourcesOf(Template.fromStack(chat.vllmEc2!), 'AWS::EC2::LaunchTemplate')[0].Properties.LaunchTemplateData.UserData['Fn::Base64'];
    expect(JSON.stringify(data)).toContain("EXTRA_ARGS=''");
  });

  test('--task in extraArgs is a config error naming the task field', () => {
    try {
      parseConfig({ models: [{ ...MODELS[0], task: 'generate', vllm: { extraArgs: ['--task', 'embed'] } }] });
      throw new Error('accepted');
    } catch (e) {
      expect((e as ConfigError).problems).toEqual([
        'models[0].vllm.extraArgs[0] = "--task": sets --task, which the kit derives from the model\'s task field: set task (generate, embed or rerank) instead.',
      ]);
    }
  });
});
