/** The VPC the kit creates or reuses, its endpoints, and TLS inside it. */
import { z } from 'zod';
import { list, flag, int, cidr, newVpcCidr, ipv4, ec2Id } from './primitives';

/** Interface endpoints the private subnets need so GPU nodes and Lambdas reach AWS without the internet. */
export const INTERFACE_ENDPOINT_NAMES = [
  'ecr.api',
  'ecr.dkr',
  'logs',
  'monitoring',
  'ssm',
  'ssmmessages',
  'ec2messages',
  'sts',
  'secretsmanager',
  'kms',
  'execute-api',
] as const;
export type InterfaceEndpointName = (typeof INTERFACE_ENDPOINT_NAMES)[number];

export const existingVpcSchema = z
  .object({
    vpcId: ec2Id('vpc', 'a VPC', 'vpc-0abc12345def67890'),
    vpcCidrBlock: cidr,
    privateSubnetIds: list(ec2Id('subnet', 'a subnet', 'subnet-0aaa1111bbb22222c')),
    privateSubnetRouteTableIds: list(ec2Id('rtb', 'a route table', 'rtb-0aaa1111bbb22222c')),
    natEgressIps: list(ipv4).default([]),
    createEndpoints: flag(true),
  })
  .strict();

export const networkSection = z
  .object({
    vpcCidr: newVpcCidr.default('10.80.0.0/16'),
    natGateways: int(1, 3, 'NAT gateways; default one per AZ').optional(),
    interfaceEndpoints: list(
      z.enum(INTERFACE_ENDPOINT_NAMES, { error: `must be among ${INTERFACE_ENDPOINT_NAMES.join(', ')}` }),
    ).default(INTERFACE_ENDPOINT_NAMES.filter((n) => n !== 'execute-api')),
    flowLogRetentionDays: z
      .union([z.literal(30), z.literal(90), z.literal(180), z.literal(365), z.literal(731), z.literal(1827)], {
        error: 'must be one of 30, 90, 180, 365, 731, 1827 (CloudWatch Logs retention days)',
      })
      .default(365),
    existingVpc: existingVpcSchema.optional(),
  })
  .strict()
  .prefault({});

/**
 * TLS on the kit's internal load balancers (vLLM on EC2, the streaming door): API keys and prompts
 * cross them. private-ca: an ACM Private CA in the region issues and renews certificates for
 * names in a private hosted zone (no public domain or ICP filing needed; a general-purpose CA is
 * billed monthly, plus per certificate: see the AWS China price list). certificate: your own ACM
 * certificates (vllmEc2.certificateArn, gateway.streamingDoor.certificateArn) covering
 * <name>.<domain>. plain-http: no TLS inside the VPC, reported as an acknowledged finding.
 */
export const internalTlsSection = z
  .object({
    /** @default private-ca, or certificate when vllmEc2.certificateArn or gateway.streamingDoor.certificateArn is set */
    mode: z.enum(['private-ca', 'certificate', 'plain-http'], { error: 'must be private-ca, certificate or plain-http' }).optional(),
    /** Private hosted zone of the load balancers' names (<served model name>.<domain>, streaming.<domain>). @default "<prefix>.internal" */
    domain: z
      .string()
      .regex(/^(?=.{1,190}$)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z][a-z0-9-]{0,61}[a-z0-9]$/, { error: 'must be a lower-case DNS domain such as "llm.corp.internal"' })
      .optional(),
    /** An existing ACM Private CA to issue from instead of creating one (one CA can serve several kits). @default a new CA in the Network stack */
    certificateAuthorityArn: z
      .string()
      .regex(/^arn:aws-cn:acm-pca:[a-z0-9-]+:\d{12}:certificate-authority\/[0-9a-f-]+$/, { error: 'must be an ACM Private CA ARN in China (arn:aws-cn:acm-pca:<region>:<account>:certificate-authority/<id>)' })
      .optional(),
    /**
     * PEM certificates of the CA that issued your certificates in mode certificate (an enterprise CA,
     * or ACM Private CA outside this kit): the gateway trusts them, besides the public roots, when it
     * calls self-hosted routes over HTTPS. Certificates only: nothing secret.
     * @default []
     */
    trustedCaCertificates: z
      .array(z.string().regex(/^-----BEGIN CERTIFICATE-----[\s\S]+-----END CERTIFICATE-----\s*$/, { error: 'must be PEM certificates ("-----BEGIN CERTIFICATE-----" ... "-----END CERTIFICATE-----")' }))
      .default([]),
  })
  .strict()
  .prefault({});

/** A served model name as a DNS label of its private name: "." and "_" are not hostname characters there (qwen2.5-7b → qwen2-5-7b). */
export function privateDnsLabel(name: string): string {
  return name.replace(/[._]/g, '-');
}

/** An explicit mode wins; otherwise configured certificates mean `certificate`, and TLS from the kit's own private CA is the default. */
export function effectiveTlsMode(mode: 'private-ca' | 'certificate' | 'plain-http' | undefined, certificateConfigured: boolean) {
  return mode ?? (certificateConfigured ? 'certificate' : 'private-ca');
}
