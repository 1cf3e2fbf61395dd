import { Match, Template } from 'aws-cdk-lib/assertions';
import { checkChinaPartition } from '../helpers/partition';
import { kitApp } from '../helpers/kit-app';
import { nagFindings } from '../helpers/nag';

describe('Network stack (new VPC, default config)', () => {
  const { app, kit, config } = kitApp();
  const stack = kit.network!;
  const template = Template.fromStack(stack);
  const resources = template.toJSON().Resources as Record<string, { Type: string; Properties: any }>;
  const ofType = (type: string) => Object.values(resources).filter((r) => r.Type === type);

  test('spans exactly the configured AZs, with no context lookup (synth works offline)', () => {
    const azs = ofType('AWS::EC2::Subnet').map((s) => s.Properties.AvailabilityZone);
    expect(new Set(azs)).toEqual(new Set(config.china.availabilityZones));
    expect(app.synth().manifest.missing).toBeUndefined();
  });

  test('puts workloads in private subnets that route to the internet only through NAT', () => {
    const privateSubnets = ofType('AWS::EC2::Subnet').filter((s) => s.Properties.MapPublicIpOnLaunch === false && s.Properties.Tags.some((t: any) => t.Value === 'Private'));
    expect(privateSubnets).toHaveLength(3);
    const natRoutes = ofType('AWS::EC2::Route').filter((r) => r.Properties.NatGatewayId);
    expect(natRoutes).toHaveLength(3);
    // Nothing launched in the public (NAT) subnets gets a public IP.
    for (const subnet of ofType('AWS::EC2::Subnet')) expect(subnet.Properties.MapPublicIpOnLaunch).toBe(false);
  });

  test('one NAT gateway with its own Elastic IP per AZ, exported as the egress IP list', () => {
    template.resourceCountIs('AWS::EC2::NatGateway', 3);
    template.resourceCountIs('AWS::EC2::EIP', 3);
    expect(stack.natEgressIps).toHaveLength(3);
    const output = template.toJSON().Outputs.NatEgressIps;
    expect(output.Export.Name).toBe('cnllm-nat-egress-ips');
    expect(output.Value['Fn::Join'][0]).toBe(',');
    expect(output.Value['Fn::Join'][1]).toHaveLength(3);
    for (const part of output.Value['Fn::Join'][1]) expect(resources[part['Fn::GetAtt'][0]].Type).toBe('AWS::EC2::EIP');
  });

  test('logs all VPC traffic to a KMS-encrypted log group that CloudWatch Logs in China may use', () => {
    template.hasResourceProperties('AWS::EC2::FlowLog', { ResourceType: 'VPC', TrafficType: 'ALL', LogDestinationType: 'cloud-watch-logs' });
    template.hasResourceProperties('AWS::Logs::LogGroup', { KmsKeyId: Match.anyValue(), RetentionInDays: 365 });
    template.hasResourceProperties('AWS::KMS::Key', {
      EnableKeyRotation: true,
      KeyPolicy: {
        Statement: Match.arrayWith([
          Match.objectLike({
            Principal: { Service: 'logs.cn-northwest-1.amazonaws.com.cn' },
            Condition: { ArnLike: { 'kms:EncryptionContext:aws:logs:arn': 'arn:aws-cn:logs:cn-northwest-1:111122223333:log-group:*' } },
          }),
        ]),
      },
    });
  });

  test('has endpoints for S3 and every AWS service GPU nodes and Lambdas need, under their China service names', () => {
    const names = ofType('AWS::EC2::VPCEndpoint').map((e) => JSON.stringify(e.Properties.ServiceName));
    expect(names.sort()).toEqual(
      [
        'cn.com.amazonaws.cn-northwest-1.ecr.api',
        'cn.com.amazonaws.cn-northwest-1.ecr.dkr',
        'cn.com.amazonaws.cn-northwest-1.monitoring',
        'cn.com.amazonaws.cn-northwest-1.sts',
        'com.amazonaws.cn-northwest-1.ec2messages',
        'com.amazonaws.cn-northwest-1.kms',
        'com.amazonaws.cn-northwest-1.logs',
        'com.amazonaws.cn-northwest-1.secretsmanager',
        'com.amazonaws.cn-northwest-1.ssm',
        'com.amazonaws.cn-northwest-1.ssmmessages',
      ]
        .map((n) => JSON.stringify(n))
        .concat(JSON.stringify({ 'Fn::Join': ['', ['com.amazonaws.', { Ref: 'AWS::Region' }, '.s3']] }))
        .sort(),
    );
    for (const e of ofType('AWS::EC2::VPCEndpoint').filter((e) => e.Properties.VpcEndpointType === 'Interface')) {
      expect(e.Properties.PrivateDnsEnabled).toBe(true);
    }
  });

  test('endpoints accept HTTPS from inside the VPC only', () => {
    template.hasResourceProperties('AWS::EC2::SecurityGroup', {
      GroupDescription: 'HTTPS from inside the VPC to AWS service interface endpoints',
      SecurityGroupIngress: [{ CidrIp: '10.80.0.0/16', FromPort: 443, ToPort: 443, IpProtocol: 'tcp', Description: 'HTTPS from the VPC' }],
      SecurityGroupEgress: [Match.objectLike({ CidrIp: '255.255.255.255/32' })],
    });
  });

  test('CDK\'s own Lambda (default security group lockdown) runs a runtime confirmed in China', () => {
    for (const fn of ofType('AWS::Lambda::Function')) expect(fn.Properties.Runtime).toBe('nodejs22.x');
    expect(ofType('AWS::Lambda::Function').length).toBeGreaterThan(0);
  });

  test('every ARN is arn:aws-cn:', () => {
    const { arns, wrong } = checkChinaPartition(template.toJSON(), { region: 'cn-northwest-1', account: '111122223333' });
    expect(arns.length).toBeGreaterThan(3);
    expect(wrong).toEqual([]);
  });

  test('zero unacknowledged nag findings', () => {
    expect(nagFindings(stack).filter((f) => f.severity === 'error')).toEqual([]);
  });

  test('template snapshot', () => {
    expect(template.toJSON()).toMatchSnapshot();
  });
});

describe('Network stack (existing VPC)', () => {
  const existing = {
    vpcId: 'vpc-0abc1234def567890',
    vpcCidrBlock: '172.31.0.0/16',
    privateSubnetIds: ['subnet-0aaa1111', 'subnet-0bbb2222'],
    privateSubnetRouteTableIds: ['rtb-0aaa1111', 'rtb-0bbb2222'],
    natEgressIps: ['52.83.0.10', '52.83.0.11'],
  };
  const { app, kit } = kitApp({ 'china.availabilityZones': 'cn-northwest-1a,cn-northwest-1b', 'network.existingVpc': JSON.stringify(existing) });
  const template = Template.fromStack(kit.network!);

  test('creates no VPC, subnets or NAT, and looks nothing up', () => {
    for (const type of ['AWS::EC2::VPC', 'AWS::EC2::Subnet', 'AWS::EC2::NatGateway', 'AWS::EC2::EIP']) template.resourceCountIs(type, 0);
    expect(app.synth().manifest.missing).toBeUndefined();
  });

  test('adds flow logs and endpoints to the given VPC and subnets', () => {
    template.hasResourceProperties('AWS::EC2::FlowLog', { ResourceId: existing.vpcId });
    template.hasResourceProperties('AWS::EC2::VPCEndpoint', { VpcId: existing.vpcId, ServiceName: 'cn.com.amazonaws.cn-northwest-1.ecr.dkr', SubnetIds: existing.privateSubnetIds });
    template.hasResourceProperties('AWS::EC2::VPCEndpoint', { VpcId: existing.vpcId, VpcEndpointType: 'Gateway', RouteTableIds: existing.privateSubnetRouteTableIds });
    template.hasResourceProperties('AWS::EC2::SecurityGroup', { SecurityGroupIngress: [Match.objectLike({ CidrIp: '172.31.0.0/16' })] });
  });

  test('exports the configured egress IPs', () => {
    expect(template.toJSON().Outputs.NatEgressIps.Value).toBe('52.83.0.10,52.83.0.11');
  });

  test('endpoints can be left to the VPC owner', () => {
    const { kit: noEndpoints } = kitApp({
      'china.availabilityZones': 'cn-northwest-1a,cn-northwest-1b',
      'network.existingVpc': JSON.stringify({ ...existing, createEndpoints: false }),
    });
    Template.fromStack(noEndpoints.network!).resourceCountIs('AWS::EC2::VPCEndpoint', 0);
  });
});
