import { App, Stack, Tags } from 'aws-cdk-lib';
import { applyComplianceChecks } from '../lib/checks/apply-checks';
import { TAG_LAGGING_TYPES } from '../lib/china/cfn-registry';
import { ComplianceLedger } from '../lib/checks/compliance-ledger';
import { names } from '../lib/config/names';
import { KitConfig } from '../lib/config/schema';
import { AgentsStack } from '../lib/stacks/agents-stack';
import { BedrockAccessStack } from '../lib/stacks/bedrock-access-stack';
import { GatewayStack } from '../lib/stacks/gateway-stack';
import { ModelStoreStack } from '../lib/stacks/model-store-stack';
import { VllmEc2Stack } from '../lib/stacks/vllm-ec2-stack';
import { VllmEksStack } from '../lib/stacks/vllm-eks-stack';
import { NetworkStack } from '../lib/stacks/network-stack';
import { DistillStack } from '../lib/stacks/distill-stack';

export interface Kit {
  readonly network?: NetworkStack;
  readonly modelStore?: ModelStoreStack;
  readonly bedrockAccess?: BedrockAccessStack;
  readonly gateway?: GatewayStack;
  readonly vllmEc2?: VllmEc2Stack;
  readonly vllmEks?: VllmEksStack;
  readonly agents?: AgentsStack;
  readonly distill?: DistillStack;
  /** Every stack the config enabled, in deploy order. */
  readonly stacks: Stack[];
}

export interface KitOptions {
  /** Where the agent tool modules are (tests point it at fixtures). @default runtime/agents/tools */
  readonly agentToolsDirectory?: string;
  /**
   * The day (YYYY-MM-DD) date-bound checks judge by, such as a Lambda runtime past its deprecation:
   * tests pin it, so that a runtime's deprecation day changes what they assert only when they say so.
   * @default the day of the synth
   */
  readonly checksDate?: string;
}

/** Wires the enabled stacks for one validated config and puts the compliance checks on the app. */
export function buildKit(app: App, config: KitConfig, ledger?: ComplianceLedger, options: KitOptions = {}): Kit {
  const stackName = names(config).stack;
  const stacks: Stack[] = [];

  // Tags on a type whose China schema lacks them would fail the whole deploy: skip those types unless configured.
  const tagOptions = { excludeResourceTypes: config.china.tagLaggingTypes ? [] : [...TAG_LAGGING_TYPES] };
  Tags.of(app).add('cn-llm-kit:prefix', config.prefix, tagOptions);
  for (const [key, value] of Object.entries(config.tags)) Tags.of(app).add(key, value, tagOptions);

  const enabled = <T extends Stack>(on: boolean, create: () => T): T | undefined => {
    if (!on) return undefined;
    const stack = create();
    stacks.push(stack);
    return stack;
  };

  const networkStack = enabled(config.stacks.network, () =>
    new NetworkStack(app, stackName('Network'), {
      config,
      description: 'cn-llm-kit: VPC, NAT egress IPs, flow logs and VPC endpoints in the AWS China region',
    }),
  );
  const modelStoreStack = enabled(config.stacks.modelStore, () =>
    new ModelStoreStack(app, stackName('ModelStore'), {
      config,
      description: 'cn-llm-kit: KMS key, model weights bucket and private ECR repositories in the AWS China region',
    }),
  );

  const bedrockAccess = enabled(config.stacks.bedrockAccess, () =>
    new BedrockAccessStack(app, stackName('BedrockAccess'), {
      config,
      description: 'cn-llm-kit: global-partition IAM user that lets the China gateway call allow-listed Bedrock models',
    }),
  );
  const gateway = enabled(config.stacks.gateway, () => {
    const [network] = builtOn(networkStack);
    return new GatewayStack(app, stackName('Gateway'), {
      config,
      vpc: network.vpc,
      subnets: network.workloadSubnets,
      executeApiEndpoint: network.endpoints?.interfaces['execute-api'],
      vpcCidr: network.vpcCidr,
      internalTls: network.internalTls,
      registryHost: modelStoreStack?.registryHost,
      accessLogBucket: modelStoreStack?.accessLogBucket,
      description: 'cn-llm-kit: OpenAI-compatible API Gateway + Lambda in China that calls Bedrock in the global region',
    });
  });

  // The vLLM stacks register their routes in Parameter Store, which the gateway reads at run time: no
  // reference either way, so deploying the gateway never starts GPUs and a model deployed later is routable.
  const vllmEc2 = enabled(config.stacks.vllmEc2, () => {
    const [network, modelStore] = builtOn(networkStack, modelStoreStack);
    return new VllmEc2Stack(app, stackName('VllmEc2'), {
      config,
      vpc: network.vpc,
      subnets: network.workloadSubnets,
      vpcCidr: network.vpcCidr,
      weightsKey: modelStore.key,
      vllmRepository: modelStore.repositories.vllm,
      registryHost: modelStore.registryHost,
      accessLogBucket: modelStore.accessLogBucket,
      internalTls: network.internalTls,
      description: 'cn-llm-kit: open models served by vLLM on EC2 GPU instances behind internal load balancers',
    });
  });

  const vllmEks = enabled(config.stacks.vllmEks, () => {
    const [network, modelStore] = builtOn(networkStack, modelStoreStack);
    return new VllmEksStack(app, stackName('VllmEks'), {
      config,
      vpc: network.vpc,
      subnets: network.workloadSubnets,
      registryHost: modelStore.registryHost,
      weightsKey: modelStore.key,
      description: 'cn-llm-kit: open models served by vLLM on EKS GPU node groups',
    });
  });

  const agents = enabled(config.stacks.agents, () => {
    const [network, modelStore, gatewayStack] = builtOn(networkStack, modelStoreStack, gateway);
    return new AgentsStack(app, stackName('Agents'), {
      config,
      vpc: network.vpc,
      subnets: network.workloadSubnets,
      vpcCidr: network.vpcCidr,
      internalTls: network.internalTls,
      gatewayApi: { restApiId: gatewayStack.restApi.api.restApiId, stageName: gatewayStack.restApi.api.deploymentStage.stageName },
      registryHost: modelStore.registryHost,
      weightsKey: modelStore.key,
      accessLogBucket: modelStore.accessLogBucket,
      ledgerKey: gatewayStack.ledger?.key,
      toolsDirectory: options.agentToolsDirectory,
      description: 'cn-llm-kit: multi-agent systems on AgentCore Runtime (or Fargate) that call models through the kit gateway',
    });
  });

  const distill = enabled(config.stacks.distill, () => {
    const [network, modelStore, gatewayStack] = builtOn(networkStack, modelStoreStack, gateway);
    return new DistillStack(app, stackName('Distill'), {
      config,
      vpc: network.vpc,
      subnets: network.workloadSubnets,
      weightsKey: modelStore.key,
      registryHost: modelStore.registryHost,
      gatewayApi: gatewayStack.restApi.api,
      description: 'cn-llm-kit: distillation pipeline (Step Functions, SageMaker training) that turns a teacher\'s answers into a LoRA adapter',
    });
  });

  applyComplianceChecks(app, { globalAccounts: [config.global.account], ledger, acceptedLaggingProperties: config.china.tagLaggingTypes ? ['Tags'] : [], today: options.checksDate });
  return { network: networkStack, modelStore: modelStoreStack, bedrockAccess, gateway, vllmEc2, vllmEks, agents, distill, stacks };
}

/** The stacks a stack builds on; config validation (lib/config/schema.ts) has already refused a config without them. */
function builtOn<T extends Stack[]>(...stacks: { [K in keyof T]: T[K] | undefined }): T {
  if (stacks.some((s) => s === undefined)) throw new Error('cn-llm-kit: a stack was wired without one it builds on, which config validation should have refused');
  return stacks as T;
}
