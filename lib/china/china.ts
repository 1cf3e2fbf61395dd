/**
 * Everything this kit knows about the AWS China partition, in one place.
 *
 * Sources: docs.amazonaws.cn, aws/aws-cdk issues, and the team notes in shared/notes/china-aws.md.
 * Facts marked "(unverified)" could not be confirmed and are only defaults that config can override.
 */

import * as iam from 'aws-cdk-lib/aws-iam';

export const CHINA_PARTITION = 'aws-cn';
export const CHINA_URL_SUFFIX = 'amazonaws.com.cn';
export const GLOBAL_PARTITION = 'aws';
export const GLOBAL_URL_SUFFIX = 'amazonaws.com';

export type ChinaRegion = 'cn-north-1' | 'cn-northwest-1';

export interface ChinaRegionFacts {
  readonly displayName: string;
  readonly availabilityZones: readonly string[];
  /** The AWS account that writes ELBv2 access logs in this region (bucket policy principal). */
  readonly elbAccessLogAccount: string;
  /**
   * GPU/accelerator instance families that are offered in the region. Third-party pricing data
   * (Jan 2026); overridable with `gpu.allowedInstanceFamilies` because AWS publishes no list.
   */
  readonly gpuInstanceFamilies: readonly string[];
}

export const CHINA_REGIONS: Readonly<Record<ChinaRegion, ChinaRegionFacts>> = {
  'cn-north-1': {
    displayName: 'Beijing',
    availabilityZones: ['cn-north-1a', 'cn-north-1b', 'cn-north-1d'],
    elbAccessLogAccount: '638102146993',
    // (unverified) p4d is Ningxia-only; the rest mirrors what Ningxia offers.
    gpuInstanceFamilies: ['g4dn', 'g5', 'p3', 'inf1'],
  },
  'cn-northwest-1': {
    displayName: 'Ningxia',
    availabilityZones: ['cn-northwest-1a', 'cn-northwest-1b', 'cn-northwest-1c'],
    elbAccessLogAccount: '037604701340',
    gpuInstanceFamilies: ['g4dn', 'g5', 'p3', 'p4d', 'inf1'],
  },
};

export const CHINA_REGION_NAMES = Object.keys(CHINA_REGIONS) as ChinaRegion[];

export function isChinaRegion(region: string | undefined): region is ChinaRegion {
  return region !== undefined && (CHINA_REGION_NAMES as string[]).includes(region);
}

/**
 * Registries and hosts that are blocked or unreliable from mainland China. Nothing the kit deploys
 * may fetch from them at deploy or run time: images are mirrored into private ECR, weights into S3.
 */
export const UNREACHABLE_FROM_CHINA: readonly { readonly host: string; readonly what: string }[] = [
  { host: 'huggingface.co', what: 'Hugging Face Hub (stage weights into S3 instead)' },
  { host: 'hf.co', what: 'Hugging Face Hub short host' },
  { host: 'docker.io', what: 'Docker Hub' },
  { host: 'registry-1.docker.io', what: 'Docker Hub registry' },
  { host: 'hub.docker.com', what: 'Docker Hub' },
  { host: 'nvcr.io', what: 'NVIDIA NGC registry' },
  { host: 'ghcr.io', what: 'GitHub Container Registry' },
  { host: 'github.io', what: 'GitHub Pages (Helm chart repositories)' },
  { host: 'raw.githubusercontent.com', what: 'GitHub raw content' },
  { host: 'registry.k8s.io', what: 'Kubernetes image registry' },
  { host: 'k8s.gcr.io', what: 'legacy Kubernetes image registry' },
  { host: 'gcr.io', what: 'Google Container Registry' },
  { host: 'quay.io', what: 'Quay registry' },
  { host: 'public.ecr.aws', what: 'ECR Public (does not exist in China)' },
];

/** Matches any unreachable host as a whole host name or a subdomain of it. */
export const UNREACHABLE_HOST_PATTERN = new RegExp(
  `(^|[^A-Za-z0-9.-])([A-Za-z0-9-]+\\.)*(${UNREACHABLE_FROM_CHINA.map((h) => h.host.replace(/\./g, '\\.')).join('|')})(?![A-Za-z0-9-])`,
  'i',
);

/** Where an unreachable host appears in a text, the host and why it is a problem; otherwise undefined. */
export function findUnreachableHost(text: string): { host: string; what: string } | undefined {
  const match = UNREACHABLE_HOST_PATTERN.exec(text);
  if (!match) return undefined;
  const host = match[3].toLowerCase();
  return UNREACHABLE_FROM_CHINA.find((h) => h.host === host);
}

/**
 * The account that serves AWS Deep Learning Containers (SageMaker training and inference images) in
 * both China regions: `727897471807.dkr.ecr.<region>.amazonaws.com.cn/<repository>:<tag>`. Which tags
 * are published there is not listed per region: pin one and check it.
 */
export const CHINA_DLC_ACCOUNT = '727897471807';

/** The private ECR registry host of an account in a China region. */
/** A regional service endpoint in China, e.g. `https://sts.cn-northwest-1.amazonaws.com.cn`. */
export function chinaServiceEndpoint(service: string, region: string): string {
  return `https://${service}.${region}.${CHINA_URL_SUFFIX}`;
}

export function ecrRegistryHost(account: string, region: ChinaRegion): string {
  return `${account}.dkr.ecr.${region}.${CHINA_URL_SUFFIX}`;
}

/** An image reference is private ECR in `region` when its registry host is `<account>.dkr.ecr.<region>.amazonaws.com.cn`. */
export const PRIVATE_ECR_IMAGE_PATTERN = /^([0-9]{12}|\{[^}]+\})\.dkr\.ecr\.([a-z0-9-]+|\{[^}]+\})\.amazonaws\.com\.cn\/[^\s]+$/;

/** An ARN in the global partition: only for resources of the global account (Bedrock side). */
export function globalArn(parts: { service: string; region: string; account: string; resource: string }): string {
  return `arn:${GLOBAL_PARTITION}:${parts.service}:${parts.region}:${parts.account}:${parts.resource}`;
}

/**
 * Global services that own ARNs with an empty account field (AWS-owned resources such as Bedrock
 * foundation models). A China stack may name them because they belong to the global side.
 */
export const GLOBAL_ACCOUNTLESS_ARN_SERVICES: readonly string[] = ['bedrock'];

/**
 * Lambda in China: nodejs24.x is not confirmed and AWS says global runtime release dates do not
 * apply; arm64 is not confirmed either. These are the safe defaults.
 */
export const CHINA_LAMBDA_DEFAULTS = { runtime: 'nodejs22.x', architecture: 'x86_64' } as const;

/** Node.js Lambda runtimes listed for the China regions. Other runtime families are not judged here. */
export const CHINA_CONFIRMED_NODEJS_RUNTIMES: readonly string[] = ['nodejs20.x', 'nodejs22.x'];

/**
 * Lambda's deprecation schedule for the runtimes the kit can pin (`lambda.runtime`,
 * `lambda.pythonRuntime`), as AWS publishes it ("Runtime deprecation policy", Lambda Developer
 * Guide; cfn-lint carries the same dates): from `deprecated` no more security patches, from
 * `createBlocked` CloudFormation can no longer create functions on it, from `updateBlocked` no
 * longer update them. These are the global dates; AWS publishes none of its own for China (unverified
 * whether China's come later), so the kit judges China stacks by them.
 */
export const LAMBDA_RUNTIME_LIFECYCLE: Readonly<Record<string, { readonly deprecated: string; readonly createBlocked: string; readonly updateBlocked: string }>> = {
  'nodejs20.x': { deprecated: '2026-04-30', createBlocked: '2027-02-01', updateBlocked: '2027-03-03' },
  'nodejs22.x': { deprecated: '2027-04-30', createBlocked: '2027-06-01', updateBlocked: '2027-07-01' },
  'nodejs24.x': { deprecated: '2028-04-30', createBlocked: '2028-06-01', updateBlocked: '2028-07-01' },
  'python3.11': { deprecated: '2027-06-30', createBlocked: '2027-07-31', updateBlocked: '2027-08-31' },
  'python3.12': { deprecated: '2028-10-31', createBlocked: '2028-11-30', updateBlocked: '2029-01-10' },
  'python3.13': { deprecated: '2029-06-30', createBlocked: '2029-07-31', updateBlocked: '2029-08-31' },
};

/** Where a runtime stands on `today` (YYYY-MM-DD); `unknown` for runtimes the table does not list. */
export function lambdaRuntimeStage(runtime: string, today: string): 'supported' | 'deprecated' | 'create-blocked' | 'unknown' {
  const dates = LAMBDA_RUNTIME_LIFECYCLE[runtime];
  if (!dates) return 'unknown';
  if (today >= dates.createBlocked) return 'create-blocked';
  return today >= dates.deprecated ? 'deprecated' : 'supported';
}

/**
 * The CloudWatch Logs principal that uses a customer managed key for log groups: the partition's
 * regional form, `logs.<region>.amazonaws.com.cn` in China (CDK's region-info table: "logs" is
 * regional and partitional). Only one form: KMS rejects key policies naming service principals it does not know.
 */
export function cloudWatchLogsPrincipal(region: string): iam.IPrincipal {
  return iam.ServicePrincipal.fromStaticServicePrincipleName(`logs.${region}.${isChinaRegion(region) ? CHINA_URL_SUFFIX : GLOBAL_URL_SUFFIX}`);
}

/**
 * EC2 in China: CDK always emits `ec2.amazonaws.com`, but EKS node groups in China have been reported
 * to require `ec2.amazonaws.com.cn` (aws-cdk#24696, cdk-eks-blueprints#558). Trust both.
 */
export function chinaEc2Principal(): iam.IPrincipal {
  return new iam.CompositePrincipal(
    new iam.ServicePrincipal(`ec2.${GLOBAL_URL_SUFFIX}`),
    iam.ServicePrincipal.fromStaticServicePrincipleName(`ec2.${CHINA_URL_SUFFIX}`),
  );
}
