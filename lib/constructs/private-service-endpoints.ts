import { Stack } from 'aws-cdk-lib';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as iam from 'aws-cdk-lib/aws-iam';
import { Construct } from 'constructs';
import { InterfaceEndpointName } from '../config/schema';

/** CDK knows each service's China endpoint name (`cn.com.amazonaws.<region>.` for some, `com.amazonaws.` for others). */
const INTERFACE_SERVICES: Record<InterfaceEndpointName, ec2.InterfaceVpcEndpointAwsService> = {
  'ecr.api': ec2.InterfaceVpcEndpointAwsService.ECR,
  'ecr.dkr': ec2.InterfaceVpcEndpointAwsService.ECR_DOCKER,
  logs: ec2.InterfaceVpcEndpointAwsService.CLOUDWATCH_LOGS,
  monitoring: ec2.InterfaceVpcEndpointAwsService.CLOUDWATCH_MONITORING,
  ssm: ec2.InterfaceVpcEndpointAwsService.SSM,
  ssmmessages: ec2.InterfaceVpcEndpointAwsService.SSM_MESSAGES,
  ec2messages: ec2.InterfaceVpcEndpointAwsService.EC2_MESSAGES,
  sts: ec2.InterfaceVpcEndpointAwsService.STS,
  secretsmanager: ec2.InterfaceVpcEndpointAwsService.SECRETS_MANAGER,
  kms: ec2.InterfaceVpcEndpointAwsService.KMS,
  'execute-api': ec2.InterfaceVpcEndpointAwsService.APIGATEWAY,
};

export interface PrivateServiceEndpointsProps {
  readonly vpc: ec2.IVpc;
  /** The VPC's CIDR as a literal (from config): a token would hide the ingress range from reviewers and cdk-nag. */
  readonly vpcCidr: string;
  readonly subnets: ec2.SubnetSelection;
  readonly interfaceEndpoints: readonly InterfaceEndpointName[];
}

/**
 * VPC endpoints so private nodes reach S3, ECR, logs, SSM, STS, Secrets Manager and KMS without the
 * internet: image pulls and weight downloads stay in the region and off the NAT bill.
 */
export class PrivateServiceEndpoints extends Construct {
  public readonly securityGroup: ec2.SecurityGroup;
  public readonly s3: ec2.GatewayVpcEndpoint;
  public readonly interfaces: Partial<Record<InterfaceEndpointName, ec2.InterfaceVpcEndpoint>> = {};

  constructor(scope: Construct, id: string, props: PrivateServiceEndpointsProps) {
    super(scope, id);
    this.s3 = props.vpc.addGatewayEndpoint('S3', {
      service: ec2.GatewayVpcEndpointAwsService.S3,
      subnets: [props.subnets],
    });

    this.securityGroup = new ec2.SecurityGroup(this, 'SecurityGroup', {
      vpc: props.vpc,
      description: 'HTTPS from inside the VPC to AWS service interface endpoints',
      allowAllOutbound: false,
    });
    this.securityGroup.addIngressRule(ec2.Peer.ipv4(props.vpcCidr), ec2.Port.tcp(443), 'HTTPS from the VPC');

    for (const name of props.interfaceEndpoints) {
      this.interfaces[name] = new ec2.InterfaceVpcEndpoint(this, name.replace(/\./g, '-'), {
        vpc: props.vpc,
        service: INTERFACE_SERVICES[name],
        subnets: props.subnets,
        securityGroups: [this.securityGroup],
        privateDnsEnabled: true,
        open: false,
      });
    }
    // Private APIs of other accounts are reachable through any execute-api endpoint: allow only this account's.
    this.interfaces['execute-api']?.addToPolicy(
      new iam.PolicyStatement({
        principals: [new iam.AnyPrincipal()],
        actions: ['execute-api:Invoke'],
        resources: [Stack.of(this).formatArn({ service: 'execute-api', resource: '*' })],
      }),
    );
  }
}
