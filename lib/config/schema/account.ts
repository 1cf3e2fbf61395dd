/** Where the kit lives (China and global accounts and regions) and which stacks it deploys. */
import { z } from 'zod';
import { CHINA_REGION_NAMES } from '../../china/china';
import { list, flag, accountId, globalRegion } from './primitives';

export const chinaSection = z
  .object({
    account: accountId('111122223333', 'AWS China (aws-cn)').default('111122223333'),
    region: z
      .enum(CHINA_REGION_NAMES as [string, ...string[]], { error: `must be one of ${CHINA_REGION_NAMES.join(', ')} (the AWS China regions)` })
      .default('cn-northwest-1'),
    /** Explicit, because a VPC in an environment-specific stack would otherwise look AZs up in the account. */
    availabilityZones: list(z.string()).optional(),
    /**
     * Apply the app-wide tags (prefix tag and `tags`) also to resource types whose China
     * CloudFormation schema did not accept `Tags` when last checked (lib/china/cfn-registry.ts:
     * ELBv2 listeners, Application Auto Scaling scalable targets). Set it once the region does;
     * until then those resources stay untagged and the deploy succeeds.
     * @default false
     */
    tagLaggingTypes: flag(false),
  })
  .strict()
  .prefault({});

export const globalSection = z
  .object({
    account: accountId('444455556666', 'global (aws) Bedrock').default('444455556666'),
    region: globalRegion.default('us-east-1'),
  })
  .strict()
  .prefault({});

export const stacksSection = z
  .object({
    network: flag(true),
    modelStore: flag(true),
    bedrockAccess: flag(true),
    gateway: flag(true),
    vllmEc2: flag(true),
    /** vLLM on EKS GPU node groups (off by default: it creates a cluster). */
    vllmEks: flag(false),
    /** Multi-agent systems on AgentCore Runtime or Fargate that call the gateway (off by default: it builds an image and a runtime). */
    agents: flag(false),
    /** The distillation pipeline (Step Functions + SageMaker training; needs network, model store and gateway). @default false */
    distill: flag(false),
  })
  .strict()
  .prefault({});
