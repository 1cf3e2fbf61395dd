import { Template } from 'aws-cdk-lib/assertions';
import { loadConfig } from '../../lib/config/load';
import { checkChinaPartition } from '../helpers/partition';
import { kitApp } from '../helpers/kit-app';
import { referencedStacks, resourcesOf } from '../helpers/template';
import { RouteEntrySchema } from '../../runtime/gateway/route-registry';
import { chinaFindings, nagFindings } from '../helpers/nag';


/** The manifests the kubectl provider applies, as objects (the custom resource holds them as JSON text). */
function manifestsOf(t: Template): Record<string, any>[] {
  return resourcesOf(t, 'Custom::AWSCDK-EKS-KubernetesResource').flatMap((r) => {
    const m = r.Properties.Manifest;
    const text = typeof m === 'string' ? m : m['Fn::Join'][1].map((p: unknown) => (typeof p === 'string' ? p : 'TOKEN')).join('');
    return JSON.parse(text);
  });
}

describe('VllmEks stack (enabled; default Bottlerocket NVIDIA GPU nodes)', () => {
  const { kit } = kitApp({ 'stacks.vllmEks': 'true', 'vllmEks.adminRoleArn': 'arn:aws-cn:iam::111122223333:role/platform-admin' });
  const stack = kit.vllmEks!;
  const t = Template.fromStack(stack);

  test('a private cluster with every control-plane log type and KMS envelope encryption of secrets', () => {
    const [cluster] = resourcesOf(t, 'AWS::EKS::Cluster');
    expect(cluster.Properties.Version).toBe('1.35');
    expect(cluster.Properties.ResourcesVpcConfig).toEqual(expect.objectContaining({ EndpointPrivateAccess: true, EndpointPublicAccess: false }));
    expect(cluster.Properties.Logging.ClusterLogging.EnabledTypes.map((l: any) => l.Type).sort()).toEqual(['api', 'audit', 'authenticator', 'controllerManager', 'scheduler']);
    expect(cluster.Properties.EncryptionConfig[0].Provider.KeyArn).toBeDefined();
    const admin = resourcesOf(t, 'AWS::EKS::AccessEntry').find((e) => e.Properties.PrincipalArn === 'arn:aws-cn:iam::111122223333:role/platform-admin')!;
    expect(admin.Properties.AccessPolicies[0].AccessScope).toEqual({ Type: 'cluster' });
    expect(JSON.stringify(admin.Properties.AccessPolicies[0].PolicyArn)).toContain('cluster-access-policy/AmazonEKSClusterAdminPolicy');
  });

  test('node groups: a system group, and a GPU group per model with the GPU taint, its label, IMDSv2 and encrypted volumes', () => {
    const groups = resourcesOf(t, 'AWS::EKS::Nodegroup').map((g) => g.Properties);
    expect(groups.map((g) => [g.NodegroupName, g.AmiType])).toEqual([
      ['system', 'AL2023_x86_64_STANDARD'],
      ['gpu-qwen2-5-1-5b-instruct', 'BOTTLEROCKET_x86_64_NVIDIA'],
    ]);
    expect(groups[1].Taints).toEqual([{ Key: 'nvidia.com/gpu', Value: 'true', Effect: 'NO_SCHEDULE' }]);
    expect(groups[1].Labels).toEqual({ 'cn-llm-kit/node-group': 'gpu-qwen2-5-1-5b-instruct', 'nvidia.com/gpu.present': 'true' });
    expect(groups[0].Labels).toEqual({ 'cn-llm-kit/node-group': 'system' });
    expect(groups[1].InstanceTypes).toEqual(['g5.xlarge']);
    for (const lt of resourcesOf(t, 'AWS::EC2::LaunchTemplate')) {
      expect(lt.Properties.LaunchTemplateData.MetadataOptions).toEqual(expect.objectContaining({ HttpTokens: 'required', HttpPutResponseHopLimit: 1 }));
      expect(lt.Properties.LaunchTemplateData.BlockDeviceMappings[0].Ebs).toEqual(expect.objectContaining({ Encrypted: true, VolumeType: 'gp3' }));
    }
  });

  test('the node role trusts both ec2.amazonaws.com and ec2.amazonaws.com.cn', () => {
    const role = resourcesOf(t, 'AWS::IAM::Role').find((r) => r.Properties.Description === 'EKS nodes of the vLLM cluster')!;
    expect(role.Properties.AssumeRolePolicyDocument.Statement[0].Principal.Service).toEqual(['ec2.amazonaws.com', 'ec2.amazonaws.com.cn']);
  });

  test('the workload reaches the cluster as typed objects: private ECR images, IRSA role, no Kubernetes Secret', () => {
    const manifests = manifestsOf(t);
    expect(manifests.map((m) => m.kind)).toEqual(['Namespace', 'ServiceAccount', 'Deployment', 'PodDisruptionBudget', 'Service']);
    const pod = manifests.find((m) => m.kind === 'Deployment')!.spec.template.spec;
    expect(pod.containers[0].image).toBe('111122223333.dkr.ecr.cn-northwest-1.amazonaws.com.cn/cnllm/vllm:v0.9.2');
    expect(pod.initContainers[0].image).toBe('111122223333.dkr.ecr.cn-northwest-1.amazonaws.com.cn/cnllm/awscli:2.27.50');
    expect(pod.initContainers[0].command[2]).toContain('s3://cnllm-weights-111122223333-cn-northwest-1/models/Qwen/Qwen2.5-1.5B-Instruct/master/');
  });

  test('pods assume their role only as the vllm service account of their namespace, and read only their model and API key', () => {
    const podRole = resourcesOf(t, 'AWS::IAM::Role').find((r) => r.Properties.Description === 'vLLM pods of vllm-qwen2-5-1-5b-instruct')!;
    const trust = podRole.Properties.AssumeRolePolicyDocument.Statement[0];
    expect(trust.Action).toBe('sts:AssumeRoleWithWebIdentity');
    expect(JSON.stringify(trust.Condition)).toContain('StringEquals');
    const cfnJson = resourcesOf(t, 'Custom::AWSCDKCfnJson')[0].Properties.Value;
    expect(JSON.stringify(cfnJson)).toContain('system:serviceaccount:vllm-qwen2-5-1-5b-instruct:vllm');
    expect(JSON.stringify(cfnJson)).toContain('sts.amazonaws.com');
    const policy = resourcesOf(t, 'AWS::IAM::Policy').find((p) => JSON.stringify(p.Properties.Roles).includes('PodRole'))!.Properties.PolicyDocument;
    expect(policy.Statement.find((s: any) => s.Action === 's3:GetObject').Resource).toBe('arn:aws-cn:s3:::cnllm-weights-111122223333-cn-northwest-1/models/Qwen/Qwen2.5-1.5B-Instruct/master/*');
  });

  test('CDK\'s own handlers run runtimes confirmed in China (the kubectl handler is Python)', () => {
    const runtimes = resourcesOf(t, 'AWS::Lambda::Function').map((f) => f.Properties.Runtime).sort();
    expect(runtimes).toEqual(['nodejs22.x', 'nodejs22.x', 'python3.12']);
  });

  test('the deploy waits for each model\'s internal NLB, after its Service is applied, and outputs its base URL', () => {
    const values = t.findResources('Custom::AWSCDK-EKS-KubernetesObjectValue');
    const [[id, value]] = Object.entries(values) as [string, any][];
    expect(value.Properties).toEqual(expect.objectContaining({
      ObjectType: 'service',
      ObjectName: 'vllm',
      ObjectNamespace: 'vllm-qwen2-5-1-5b-instruct',
      JsonPath: '.status.loadBalancer.ingress[0].hostname',
      TimeoutSeconds: 600,
    }));
    // Without this dependency the wait could start before the Service (and so the NLB) exists.
    const [manifestId] = Object.entries(t.findResources('Custom::AWSCDK-EKS-KubernetesResource')).find(([, r]) => JSON.stringify(r.Properties.Manifest).includes('\\"kind\\":\\"Service\\"'))!;
    expect(value.DependsOn).toContain(manifestId);
    const outputs = t.toJSON().Outputs;
    expect(outputs.BaseUrlqwen2515binstruct.Value).toEqual({ 'Fn::Join': ['', ['http://', { 'Fn::GetAtt': [id, 'Value'] }, '/v1']] });
    expect(stack.resolve(stack.services['qwen2.5-1.5b-instruct'].baseUrl)).toEqual(outputs.BaseUrlqwen2515binstruct.Value);
  });

  test('registers the NLB the deploy waited for in Parameter Store, as eks/<name> while EC2 serves the plain name', () => {
    registersRoute(t, '/cnllm/routes/eks/qwen2.5-1.5b-instruct', 'eks/qwen2.5-1.5b-instruct');
    t.hasResourceProperties('AWS::SecretsManager::Secret', { Name: 'cnllm/vllm/eks/qwen2.5-1.5b-instruct' });
    // It writes; it reads nothing of the gateway's.
    expect(referencedStacks(t.toJSON())).toEqual(['cnllm-ModelStore', 'cnllm-Network']);
  });

  test('outputs the kubeconfig command', () => {
    const kubeconfig = JSON.stringify(t.toJSON().Outputs.KubeconfigCommand.Value);
    expect(kubeconfig).toContain('aws eks update-kubeconfig --region cn-northwest-1 --name ');
    expect(kubeconfig).toContain(' --role-arn arn:aws-cn:iam::111122223333:role/platform-admin');
    t.hasResourceProperties('AWS::EKS::Cluster', { Name: 'cnllm-vllm' });
  });

  test('template snapshot', () => {
    expect(t.toJSON()).toMatchSnapshot();
  });

  test('ChinaRegion (including the node role trust rule) and AwsSolutions clean; every ARN arn:aws-cn:', () => {
    expect(chinaFindings(stack)).toEqual([]);
    expect(nagFindings(stack).filter((f) => f.severity === 'error')).toEqual([]);
    expect(checkChinaPartition(t.toJSON(), { region: 'cn-northwest-1', account: '111122223333' }).wrong).toEqual([]);
  });
});

/** The route parameter holds the registry entry with the NLB hostname (KubernetesObjectValue) and the API key secret. */
function registersRoute(t: Template, name: string, alias: string) {
  const [id] = Object.keys(t.findResources('Custom::AWSCDK-EKS-KubernetesObjectValue'));
  const parameter = resourcesOf(t, 'AWS::SSM::Parameter').find((p) => p.Properties.Name === name)!.Properties;
  const parts: unknown[] = parameter.Value['Fn::Join'][1];
  expect(parts.filter((p) => typeof p !== 'string')).toEqual([{ 'Fn::GetAtt': [id, 'Value'] }, { Ref: expect.stringMatching(/^ApiKeyqwen/) }]);
  const entry = JSON.parse(parts.map((p) => (typeof p === 'string' ? p : JSON.stringify(p).includes('Value') ? 'k8s-nlb.elb.cn-northwest-1.amazonaws.com.cn' : 'arn:aws-cn:secretsmanager:cn-northwest-1:111122223333:secret:cnllm/vllm/eks/x-AbCdEf')).join(''));
  expect(RouteEntrySchema.parse(entry)).toEqual(
    expect.objectContaining({ alias, platform: 'eks', servedName: 'qwen2.5-1.5b-instruct', routeName: 'vllm-eks-qwen2.5-1.5b-instruct', baseUrl: 'http://k8s-nlb.elb.cn-northwest-1.amazonaws.com.cn/v1', kind: 'vllm', crossBorder: false }),
  );
}

describe('VllmEks alone', () => {
  test('registers the served name itself; nothing with routing.registerVllm false', () => {
    registersRoute(Template.fromStack(kitApp({ 'stacks.vllmEc2': 'false', 'stacks.vllmEks': 'true' }).kit.vllmEks!), '/cnllm/routes/qwen2.5-1.5b-instruct', 'qwen2.5-1.5b-instruct');
    const unregistered = Template.fromStack(kitApp({ 'stacks.vllmEc2': 'false', 'stacks.vllmEks': 'true', 'routing.registerVllm': 'false' }).kit.vllmEks!);
    // CDK's kubectl provider keeps a parameter of its own; no route parameter.
    expect(resourcesOf(unregistered, 'AWS::SSM::Parameter').map((p) => p.Properties.Name).filter((n) => String(n).startsWith('/cnllm/routes'))).toEqual([]);
  });
});

/** Per node group: the device and size of the one volume its launch template sets. */
function nodeVolumes(t: Template): Record<string, [string, number]> {
  const templates = t.findResources('AWS::EC2::LaunchTemplate');
  return Object.fromEntries(
    resourcesOf(t, 'AWS::EKS::Nodegroup').map((g) => {
      const [mapping] = templates[g.Properties.LaunchTemplate.Id.Ref].Properties.LaunchTemplateData.BlockDeviceMappings;
      return [g.Properties.NodegroupName, [mapping.DeviceName, mapping.Ebs.VolumeSize]];
    }),
  );
}

describe('node volumes hold the images and the weights copied into the pod', () => {
  // qwen2.5-1.5b-instruct in bf16: ~2.9 GiB of weights, +10 % = 4 GiB; base 60 + image 30.
  test('Bottlerocket keeps images and pod storage on its data volume (xvdb), sized even on NVMe instances (emptyDir never uses NVMe)', () => {
    const { kit } = kitApp({ 'stacks.vllmEks': 'true' });
    expect(nodeVolumes(Template.fromStack(kit.vllmEks!))).toEqual({ system: ['/dev/xvda', 50], 'gpu-qwen2-5-1-5b-instruct': ['/dev/xvdb', 94] });
  });

  const [defaultModel] = loadConfig({}).models;
  const streamedModel = { ...defaultModel, vllm: { ...defaultModel.vllm, loadFormat: 'runai_streamer' } };
  test('AL2023 keeps them on the root volume (xvda); weights streamed by runai_streamer take no room', () => {
    const { kit } = kitApp({ 'stacks.vllmEks': 'true', 'vllmEks.gpuAmi': 'AL2023', 'modelStore.repositories': 'vllm,tools,node,awscli,deviceplugin', models: JSON.stringify([streamedModel]) });
    expect(nodeVolumes(Template.fromStack(kit.vllmEks!))).toEqual({ system: ['/dev/xvda', 50], 'gpu-qwen2-5-1-5b-instruct': ['/dev/xvda', 90] });
  });
});

describe('VllmEks options', () => {
  test('AL2023 NVIDIA nodes get the device plugin from the private ECR', () => {
    const { kit } = kitApp({ 'stacks.vllmEks': 'true', 'vllmEks.gpuAmi': 'AL2023', 'modelStore.repositories': 'vllm,tools,node,awscli,deviceplugin' });
    const t = Template.fromStack(kit.vllmEks!);
    const plugin = manifestsOf(t).find((m) => m.kind === 'DaemonSet')!;
    expect(plugin.spec.template.spec.containers[0].image).toBe('111122223333.dkr.ecr.cn-northwest-1.amazonaws.com.cn/cnllm/deviceplugin:v0.17.2');
    const [system, gpu] = resourcesOf(t, 'AWS::EKS::Nodegroup').map((g) => g.Properties);
    expect(gpu.AmiType).toBe('AL2023_x86_64_NVIDIA');
    // The plugin's node selector matches the GPU group's labels and not the system group's (where it would crash-loop).
    const selects = (labels: Record<string, string>) => Object.entries(plugin.spec.template.spec.nodeSelector).every(([k, v]) => labels[k] === v);
    expect(selects(gpu.Labels)).toBe(true);
    expect(selects(system.Labels)).toBe(false);
    expect(plugin.spec.template.spec.tolerations).toContainEqual(expect.objectContaining({ key: gpu.Taints[0].Key, effect: 'NoSchedule' }));
  });

  test('a public endpoint only with a CIDR allow-list', () => {
    const { kit } = kitApp({ 'stacks.vllmEks': 'true', 'vllmEks.endpointAccess': 'PUBLIC_AND_PRIVATE', 'vllmEks.publicAccessCidrs': '203.0.113.0/24' });
    const [cluster] = resourcesOf(Template.fromStack(kit.vllmEks!), 'AWS::EKS::Cluster');
    expect(cluster.Properties.ResourcesVpcConfig).toEqual(expect.objectContaining({ EndpointPublicAccess: true, PublicAccessCidrs: ['203.0.113.0/24'] }));
    expect(() => kitApp({ 'stacks.vllmEks': 'true', 'vllmEks.endpointAccess': 'PUBLIC_AND_PRIVATE' })).toThrow(/vllmEks.publicAccessCidrs = \[\]: must list the CIDRs allowed to reach the public API endpoint/);
  });
});
