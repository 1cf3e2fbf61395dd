import { CfnOutput, Fn, Validations } from 'aws-cdk-lib';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import { Construct } from 'constructs';
import { EncryptedLogGroup } from '../constructs/encrypted-log-group';
import { InternalTls } from '../constructs/internal-tls';
import { PrivateServiceEndpoints } from '../constructs/private-service-endpoints';
import { ChinaStack, ChinaStackProps } from './china-stack';

export type NetworkStackProps = ChinaStackProps;

/**
 * The China network every workload runs in: private subnets for GPU nodes and Lambdas, NAT gateways
 * whose Elastic IPs are the kit's only egress to the internet (the global side pins its Bedrock
 * credential to them), flow logs, and VPC endpoints so nodes reach AWS without the internet.
 */
export class NetworkStack extends ChinaStack {
  public readonly vpc: ec2.IVpc;
  /** Where GPU nodes, Lambdas and endpoints live. */
  public readonly workloadSubnets: ec2.SubnetSelection;
  /** Public IPs of the NAT gateways (CloudFormation refs for a new VPC, configured values for an existing one). */
  public readonly natEgressIps: string[];
  public readonly endpoints?: PrivateServiceEndpoints;
  /** The VPC's CIDR as a literal, for security group rules reviewers (and cdk-nag) can read. */
  public readonly vpcCidr: string;
  /** Private names (and CA) for the internal load balancers' HTTPS listeners. */
  public readonly internalTls: InternalTls;

  constructor(scope: Construct, id: string, props: NetworkStackProps) {
    super(scope, id, props);
    const { config } = props;
    const net = config.network;
    this.vpcCidr = net.existingVpc?.vpcCidrBlock ?? net.vpcCidr;

    if (net.existingVpc) {
      const existing = net.existingVpc;
      // fromVpcAttributes takes ids as given: no context lookup, so synth stays offline.
      this.vpc = ec2.Vpc.fromVpcAttributes(this, 'Vpc', {
        vpcId: existing.vpcId,
        vpcCidrBlock: existing.vpcCidrBlock,
        availabilityZones: config.china.availabilityZones,
        privateSubnetIds: existing.privateSubnetIds,
        privateSubnetRouteTableIds: existing.privateSubnetRouteTableIds,
      });
      this.workloadSubnets = { subnetType: ec2.SubnetType.PRIVATE_WITH_EGRESS };
      this.natEgressIps = existing.natEgressIps;
    } else {
      const vpc = new ec2.Vpc(this, 'Vpc', {
        ipAddresses: ec2.IpAddresses.cidr(net.vpcCidr),
        // Explicit AZs: otherwise an environment-specific stack looks them up in the account.
        availabilityZones: config.china.availabilityZones,
        natGateways: net.natGateways,
        subnetConfiguration: [
          // Holds only the NAT gateways; nothing launched here gets a public IP.
          { name: 'Egress', subnetType: ec2.SubnetType.PUBLIC, cidrMask: 26, mapPublicIpOnLaunch: false },
          { name: 'Workloads', subnetType: ec2.SubnetType.PRIVATE_WITH_EGRESS },
        ],
      });
      Validations.of(vpc).acknowledge({
        id: 'CloudFormation-Validate::W3010',
        reason: 'Availability zones come from config (china.availabilityZones) so that synth never looks them up in the account.',
      });
      this.vpc = vpc;
      this.workloadSubnets = { subnetGroupName: 'Workloads' };
      this.natEgressIps = vpc.publicSubnets
        .map((subnet) => subnet.node.tryFindChild('EIP'))
        .filter((eip): eip is ec2.CfnEIP => eip instanceof ec2.CfnEIP)
        .map((eip) => eip.attrPublicIp);
    }

    const flowLogGroup = new EncryptedLogGroup(this, 'FlowLogs', {
      retentionDays: net.flowLogRetentionDays,
      purpose: 'VPC flow logs',
      retain: config.modelStore.retainOnDelete,
    });
    new ec2.FlowLog(this, 'FlowLog', {
      resourceType: ec2.FlowLogResourceType.fromVpc(this.vpc),
      destination: ec2.FlowLogDestination.toCloudWatchLogs(flowLogGroup.logGroup),
      trafficType: ec2.FlowLogTrafficType.ALL,
    });

    if (!net.existingVpc || net.existingVpc.createEndpoints) {
      this.endpoints = new PrivateServiceEndpoints(this, 'Endpoints', {
        vpc: this.vpc,
        vpcCidr: this.vpcCidr,
        subnets: this.workloadSubnets,
        interfaceEndpoints: net.interfaceEndpoints,
      });
    }

    this.internalTls = new InternalTls(this, 'InternalTls', {
      settings: config.internalTls,
      vpc: this.vpc,
      prefix: config.prefix,
      needed: config.stacks.vllmEc2 || (config.stacks.gateway && config.gateway.streamingDoor.enabled) || (config.stacks.agents && config.agents.platform === 'fargate'),
    });

    new CfnOutput(this, 'VpcId', { value: this.vpc.vpcId, description: 'VPC of the kit in China' });
    new CfnOutput(this, 'NatEgressIps', {
      value: this.natEgressIps.length > 0 ? Fn.join(',', this.natEgressIps) : 'none-configured',
      description: 'Public egress IPs of the NAT gateways: the only source IPs of the kit\'s internet traffic',
      exportName: `${config.prefix}-nat-egress-ips`,
    });
  }
}
