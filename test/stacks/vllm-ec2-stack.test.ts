import { execFileSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { Match, Template } from 'aws-cdk-lib/assertions';
import { renderBootScript } from '../../lib/vllm/boot-script';
import { VLLM_ENVIRONMENT } from '../../lib/vllm/server';
import { checkChinaPartition } from '../helpers/partition';
import { kitApp } from '../helpers/kit-app';
import { referencedStacks, resourcesOf } from '../helpers/template';
import { RouteEntrySchema } from '../../runtime/gateway/route-registry';
import { chinaFindings, nagFindings } from '../helpers/nag';


/** The user data as the instance will run it, with deploy-time references replaced by sample values. */
function userDataOf(template: Template): string {
  const data = resourcesOf(template, 'AWS::EC2::LaunchTemplate')[0].Properties.LaunchTemplateData.UserData['Fn::Base64'];
  return typeof data === 'string' ? data : data['Fn::Join'][1].map((p: unknown) => (typeof p === 'string' ? p : 'arn:aws-cn:secretsmanager:cn-northwest-1:111122223333:secret:sample-AbCdEf')).join('');
}

function shellcheck(script: string): string {
  const file = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'cnllm-userdata-')), 'user-data.sh');
  fs.writeFileSync(file, script);
  try {
    execFileSync('shellcheck', ['--version'], { stdio: 'ignore' });
  } catch {
    throw new Error('shellcheck is not installed: apt-get install shellcheck (.ci/run does this)');
  }
  try {
    return execFileSync('shellcheck', ['-s', 'bash', '-f', 'gcc', file], { encoding: 'utf8' });
  } catch (e) {
    return (e as { stdout: string }).stdout;
  }
}

describe('VllmEc2 stack (default: Qwen2.5-1.5B on g5.xlarge)', () => {
  const { kit } = kitApp();
  const stack = kit.vllmEc2!;
  const template = Template.fromStack(stack);
  const json = template.toJSON();
  const userData = userDataOf(template);

  test('launch template: GPU AMI from the SSM public parameter, IMDSv2, no key pair, encrypted gp3, detailed monitoring, no public IP', () => {
    const data = resourcesOf(template, 'AWS::EC2::LaunchTemplate')[0].Properties.LaunchTemplateData;
    expect(data.InstanceType).toBe('g5.xlarge');
    expect(data.MetadataOptions).toEqual({ HttpTokens: 'required', HttpPutResponseHopLimit: 1 });
    expect(data.KeyName).toBeUndefined();
    expect(data.Monitoring).toEqual({ Enabled: true });
    expect(data.NetworkInterfaces[0].AssociatePublicIpAddress).toBe(false);
    // g5.xlarge has instance NVMe for the weights: the root volume holds OS and image only.
    expect(data.BlockDeviceMappings).toEqual([{ DeviceName: '/dev/xvda', Ebs: { DeleteOnTermination: true, Encrypted: true, VolumeSize: 90, VolumeType: 'gp3' } }]);
    const amiParam = Object.values(json.Parameters as Record<string, any>).find((p) => p.Type === 'AWS::SSM::Parameter::Value<AWS::EC2::Image::Id>');
    expect(amiParam.Default).toBe('/aws/service/ecs/optimized-ami/amazon-linux-2023/gpu/recommended/image_id');
  });

  test('user data: private ECR on the .amazonaws.com.cn host, weights from the in-region bucket, offline flags, health wait, boot metric', () => {
    expect(userData).toContain("ECR_REGISTRY='111122223333.dkr.ecr.cn-northwest-1.amazonaws.com.cn'");
    expect(userData).toContain("VLLM_IMAGE='111122223333.dkr.ecr.cn-northwest-1.amazonaws.com.cn/cnllm/vllm:v0.9.2'");
    expect(userData).toContain("MODEL_S3_URI='s3://cnllm-weights-111122223333-cn-northwest-1/models/Qwen/Qwen2.5-1.5B-Instruct/master/'");
    expect(userData).toContain('docker login --username AWS --password-stdin "${ECR_REGISTRY}"');
    expect(userData).toContain('aws s3 cp --recursive');
    expect(userData).toContain('-e HF_HUB_OFFLINE=1 -e TRANSFORMERS_OFFLINE=1');
    expect(userData).toContain('--pull never');
    expect(userData).toMatch(/until curl -fsS "http:\/\/127\.0\.0\.1:\$\{VLLM_PORT\}\/health"/);
    expect(userData).toContain('--metric-name BootToReadySeconds');
    expect(userData).toContain('Restart=on-failure');
    expect(userData).not.toMatch(/huggingface\.co|docker\.io|nvcr\.io|ghcr\.io/);
    expect(userData).not.toMatch(/VLLM_API_KEY=[^%]/);
  });

  test('the vLLM container runs offline and without usage statistics (every variable of VLLM_ENVIRONMENT)', () => {
    expect(Object.keys(VLLM_ENVIRONMENT)).toEqual(expect.arrayContaining(['VLLM_NO_USAGE_STATS', 'DO_NOT_TRACK', 'HF_HUB_OFFLINE']));
    const dockerRun = userData.slice(userData.indexOf('ExecStart=/usr/bin/docker run'), userData.indexOf('ExecStop='));
    for (const [name, value] of Object.entries(VLLM_ENVIRONMENT)) expect(dockerRun).toContain(`-e ${name}=${value} `);
  });

  test('the rendered user data is shellcheck-clean', () => {
    expect(shellcheck(userData)).toBe('');
  });

  test('Auto Scaling group: private subnets, ELB health checks after a load-time grace, notifications, rolling replacement, request-count scaling', () => {
    const [asg] = resourcesOf(template, 'AWS::AutoScaling::AutoScalingGroup');
    expect(asg.Properties).toEqual(
      expect.objectContaining({ MinSize: '1', MaxSize: '2', HealthCheckType: 'ELB', HealthCheckGracePeriod: 1200, Cooldown: '300', VPCZoneIdentifier: expect.any(Array) }),
    );
    expect(asg.Properties.NotificationConfigurations[0].NotificationTypes).toHaveLength(4);
    expect(asg.UpdatePolicy.AutoScalingRollingUpdate).toEqual(expect.objectContaining({ MaxBatchSize: 1, PauseTime: 'PT20M' }));
    template.hasResourceProperties('AWS::AutoScaling::ScalingPolicy', {
      PolicyType: 'TargetTrackingScaling',
      TargetTrackingConfiguration: Match.objectLike({ TargetValue: 120, PredefinedMetricSpecification: Match.objectLike({ PredefinedMetricType: 'ALBRequestCountPerTarget' }) }),
    });
  });

  test('internal load balancer reachable from the VPC only, health check on /health, access logs', () => {
    const [lb] = resourcesOf(template, 'AWS::ElasticLoadBalancingV2::LoadBalancer');
    expect(lb.Properties.Scheme).toBe('internal');
    expect(lb.Properties.LoadBalancerAttributes).toEqual(
      expect.arrayContaining([
        { Key: 'access_logs.s3.enabled', Value: 'true' },
        { Key: 'access_logs.s3.prefix', Value: 'alb/qwen2.5-1.5b-instruct' },
        { Key: 'idle_timeout.timeout_seconds', Value: '600' },
        { Key: 'routing.http.drop_invalid_header_fields.enabled', Value: 'true' },
      ]),
    );
    template.hasResourceProperties('AWS::EC2::SecurityGroup', {
      GroupDescription: 'Internal load balancer of vLLM qwen2.5-1.5b-instruct',
      SecurityGroupIngress: [{ CidrIp: '10.80.0.0/16', FromPort: 443, ToPort: 443, IpProtocol: 'tcp', Description: 'Callers inside the VPC' }],
    });
    template.hasResourceProperties('AWS::ElasticLoadBalancingV2::TargetGroup', {
      Port: 8000,
      HealthCheckPath: '/health',
      Matcher: { HttpCode: '200' },
      TargetGroupAttributes: Match.arrayWith([{ Key: 'deregistration_delay.timeout_seconds', Value: '120' }]),
    });
    // HTTPS from the kit's private CA by default (internalTls): test/stacks/internal-tls.test.ts.
    template.hasResourceProperties('AWS::ElasticLoadBalancingV2::Listener', { Port: 443, Protocol: 'HTTPS' });
  });

  test('instance role: only its model prefix, only the vLLM repository, only its API key; Session Manager, no SSH', () => {
    const policy = resourcesOf(template, 'AWS::IAM::Policy').find((p) => JSON.stringify(p.Properties.Roles).includes('InstanceRole'))!.Properties.PolicyDocument;
    const bySid = (sid: string) => policy.Statement.find((s: any) => s.Sid === sid);
    expect(bySid('ReadOwnModel').Resource).toBe('arn:aws-cn:s3:::cnllm-weights-111122223333-cn-northwest-1/models/Qwen/Qwen2.5-1.5B-Instruct/master/*');
    expect(bySid('ListOwnModel').Condition).toEqual({ StringLike: { 's3:prefix': ['models/Qwen/Qwen2.5-1.5B-Instruct/master/*'] } });
    const pull = policy.Statement.find((s: any) => JSON.stringify(s.Action).includes('ecr:BatchGetImage'));
    expect(JSON.stringify(pull.Resource)).toContain('Repositoryvllm');
    const secret = policy.Statement.find((s: any) => JSON.stringify(s.Action).includes('secretsmanager:GetSecretValue'));
    expect(secret.Resource).toEqual({ Ref: expect.stringMatching(/^ApiKeyqwen/) });
    const role = resourcesOf(template, 'AWS::IAM::Role').find((r) => r.Properties.Description === 'vLLM instances serving qwen2.5-1.5b-instruct')!;
    expect(JSON.stringify(role.Properties.ManagedPolicyArns)).toContain('AmazonSSMManagedInstanceCore');
    expect(role.Properties.ManagedPolicyArns).toHaveLength(1);
    template.hasResourceProperties('AWS::EC2::SecurityGroup', { GroupDescription: 'vLLM qwen2.5-1.5b-instruct: port 8000 from its load balancer only', SecurityGroupIngress: Match.absent() });
  });

  test('a generated, KMS-encrypted API key per model; alarms; a dashboard; outputs', () => {
    template.hasResourceProperties('AWS::SecretsManager::Secret', { GenerateSecretString: { PasswordLength: 48, ExcludePunctuation: true }, KmsKeyId: Match.anyValue() });
    const alarms = resourcesOf(template, 'AWS::CloudWatch::Alarm').map((a) => a.Properties.AlarmDescription);
    expect(alarms).toEqual(['vLLM qwen2.5-1.5b-instruct: unhealthy instances for 15 minutes', 'vLLM qwen2.5-1.5b-instruct: more than 10 5xx responses in 5 minutes']);
    const body = JSON.stringify(resourcesOf(template, 'AWS::CloudWatch::Dashboard')[0].Properties.DashboardBody);
    for (const metric of ['nvidia_smi_utilization_gpu', 'nvidia_smi_memory_used', 'BootToReadySeconds', 'TargetResponseTime']) expect(body).toContain(metric);
    expect(Object.keys(json.Outputs)).toEqual(expect.arrayContaining(['BaseUrlqwen2515binstruct', 'ServedModelNameqwen2515binstruct', 'ApiKeySecretArnqwen2515binstruct', 'ExampleCallqwen2515binstruct']));
    expect(json.Outputs.ServedModelNameqwen2515binstruct.Value).toBe('qwen2.5-1.5b-instruct');
  });

  test('registers its route in Parameter Store for the gateway: alias, base URL, API key secret under the gateway-readable prefix', () => {
    template.hasResourceProperties('AWS::SecretsManager::Secret', { Name: 'cnllm/vllm/ec2/qwen2.5-1.5b-instruct' });
    const [parameter] = resourcesOf(template, 'AWS::SSM::Parameter').map((p) => p.Properties);
    expect(parameter).toEqual(expect.objectContaining({ Name: '/cnllm/routes/qwen2.5-1.5b-instruct', Type: 'String', Tier: 'Standard' }));
    // The value is the entry the gateway parses (RouteEntrySchema): the model's private HTTPS name, and the secret filled in at deploy.
    const parts: unknown[] = parameter.Value['Fn::Join'][1];
    const entry = JSON.parse(parts.map((p) => (typeof p === 'string' ? p : 'arn:aws-cn:secretsmanager:cn-northwest-1:111122223333:secret:cnllm/vllm/ec2/x-AbCdEf')).join(''));
    expect(RouteEntrySchema.parse(entry)).toEqual({
      alias: 'qwen2.5-1.5b-instruct',
      platform: 'ec2',
      servedName: 'qwen2.5-1.5b-instruct',
      routeName: 'vllm-qwen2.5-1.5b-instruct',
      baseUrl: 'https://qwen2-5-1-5b-instruct.cnllm.internal/v1',
      apiKeySecretArn: 'arn:aws-cn:secretsmanager:cn-northwest-1:111122223333:secret:cnllm/vllm/ec2/x-AbCdEf',
      kind: 'vllm',
      crossBorder: false,
      modelKind: 'chat',
    });
    expect(parts.filter((p) => typeof p !== 'string')).toEqual([{ Ref: expect.stringMatching(/^ApiKeyqwen/) }]);
    // It writes; it reads nothing of the gateway's.
    expect(referencedStacks(json)).toEqual(['cnllm-ModelStore', 'cnllm-Network']);
  });

  test('every ARN is arn:aws-cn:, zero unacknowledged findings, ChinaRegion clean', () => {
    expect(checkChinaPartition(json, { region: 'cn-northwest-1', account: '111122223333' }).wrong).toEqual([]);
    expect(nagFindings(stack).filter((f) => f.severity === 'error')).toEqual([]);
    expect(chinaFindings(stack)).toEqual([]);
  });

  test('template snapshot', () => {
    expect(json).toMatchSnapshot();
  });
});

describe('VllmEc2 options', () => {
  const model = (extra: object) => JSON.stringify([{ id: 'Qwen/Qwen2.5-7B-Instruct', servedName: 'qwen7b', parametersBillions: 7.6, ...extra }]);

  test('T4 without bf16: dtype auto becomes half; p3 without NVMe puts the weights on a larger EBS volume', () => {
    const t4 = userDataOf(Template.fromStack(kitApp({ models: model({ instanceType: 'g4dn.12xlarge' }) }).kit.vllmEc2!));
    expect(t4).toContain("DTYPE='half'");
    expect(t4).toContain("TENSOR_PARALLEL_SIZE='4'");
    const p3 = Template.fromStack(kitApp({ models: model({ instanceType: 'p3.8xlarge' }) }).kit.vllmEc2!);
    // 60 base + 30 image + ceil(7.6e9 * 2 bytes / GiB * 1.1) = 16 GiB of weights.
    expect(resourcesOf(p3, 'AWS::EC2::LaunchTemplate')[0].Properties.LaunchTemplateData.BlockDeviceMappings[0].Ebs.VolumeSize).toBe(106);
  });

  test('Run:ai streamer: weights stream from S3, IMDS reachable from the container', () => {
    const t = Template.fromStack(kitApp({ models: model({ vllm: { loadFormat: 'runai_streamer', extraArgs: ['--enable-prefix-caching'] } }) }).kit.vllmEc2!);
    const ud = userDataOf(t);
    expect(ud).toContain("LOAD_FORMAT='runai_streamer'");
    expect(ud).toContain("EXTRA_ARGS='--enable-prefix-caching'");
    expect(resourcesOf(t, 'AWS::EC2::LaunchTemplate')[0].Properties.LaunchTemplateData.MetadataOptions.HttpPutResponseHopLimit).toBe(2);
    expect(shellcheck(ud)).toBe('');
  });

  test('Spot capacity and an HTTPS listener with a configured certificate', () => {
    const cert = 'arn:aws-cn:acm:cn-northwest-1:111122223333:certificate/0a1b2c3d-1111-2222-3333-444455556666';
    const t = Template.fromStack(kitApp({ models: model({ spot: true }), 'vllmEc2.certificateArn': cert }).kit.vllmEc2!);
    const [asg] = resourcesOf(t, 'AWS::AutoScaling::AutoScalingGroup');
    expect(asg.Properties.MixedInstancesPolicy.InstancesDistribution).toEqual({ OnDemandPercentageAboveBaseCapacity: 0, SpotAllocationStrategy: 'price-capacity-optimized' });
    expect(asg.Properties.CapacityRebalance).toBe(true);
    expect(resourcesOf(t, 'AWS::EC2::LaunchTemplate')[0].Properties.LaunchTemplateData.BlockDeviceMappings[0].Ebs.Encrypted).toBe(true);
    t.hasResourceProperties('AWS::ElasticLoadBalancingV2::Listener', { Port: 443, Protocol: 'HTTPS', Certificates: [{ CertificateArn: cert }] });
    expect(JSON.stringify(t.toJSON().Outputs)).toContain('https://');
  });

  test('a pinned digest is what instances pull', () => {
    const digest = `sha256:${'ab'.repeat(32)}`;
    expect(userDataOf(Template.fromStack(kitApp({ 'images.vllm': JSON.stringify({ source: 'docker.io/vllm/vllm-openai:v0.9.2', tag: 'v0.9.2', digest }) }).kit.vllmEc2!))).toContain(
      `VLLM_IMAGE='111122223333.dkr.ecr.cn-northwest-1.amazonaws.com.cn/cnllm/vllm@${digest}'`,
    );
  });

  test('one service per served model', () => {
    const two = JSON.stringify([
      { id: 'Qwen/Qwen2.5-1.5B-Instruct', servedName: 'small', parametersBillions: 1.5 },
      { id: 'Qwen/Qwen2.5-7B-Instruct', servedName: 'large', parametersBillions: 7.6, instanceType: 'g5.2xlarge' },
    ]);
    const t = Template.fromStack(kitApp({ models: two }).kit.vllmEc2!);
    t.resourceCountIs('AWS::AutoScaling::AutoScalingGroup', 2);
    t.resourceCountIs('AWS::ElasticLoadBalancingV2::LoadBalancer', 2);
  });
});

describe('route registration', () => {
  test('routing.registerVllm false: no route parameter', () => {
    const { kit } = kitApp({ 'routing.registerVllm': 'false' });
    Template.fromStack(kit.vllmEc2!).resourceCountIs('AWS::SSM::Parameter', 0);
  });

  test('with EKS on too, EC2 keeps the served name as its alias', () => {
    const { kit } = kitApp({ 'stacks.vllmEks': 'true' });
    Template.fromStack(kit.vllmEc2!).hasResourceProperties('AWS::SSM::Parameter', { Name: '/cnllm/routes/qwen2.5-1.5b-instruct' });
  });
});

describe('boot script', () => {
  test('values are shell-quoted: a quote in a value cannot break out', () => {
    const script = renderBootScript({
      REGION: 'cn-northwest-1', ECR_REGISTRY: 'r', VLLM_IMAGE: 'i', MODEL_S3_URI: 's3://b/p/', SERVED_MODEL_NAME: "it's", API_KEY_SECRET_ID: 'arn', MAX_MODEL_LEN: '1', GPU_MEMORY_UTILIZATION: '0.9',
      DTYPE: 'auto', TENSOR_PARALLEL_SIZE: '1', LOAD_FORMAT: 'local', VLLM_PORT: '8000', METRIC_NAMESPACE: 'n', HEALTH_TIMEOUT_SECONDS: '60', EXTRA_ARGS: '', CLOUDWATCH_AGENT_CONFIG: '$(reboot)',
    });
    expect(script).toContain(`SERVED_MODEL_NAME='it'"'"'s'`);
    expect(script).toContain(`CLOUDWATCH_AGENT_CONFIG='$(reboot)'`);
    expect(execFileSync('bash', ['-c', `${script.split('\n').slice(0, 20).join('\n')}\nprintf '%s|%s' "$SERVED_MODEL_NAME" "$CLOUDWATCH_AGENT_CONFIG"`], { encoding: 'utf8' })).toBe("it's|$(reboot)");
  });
});
