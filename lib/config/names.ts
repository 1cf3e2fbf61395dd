import { KitConfig } from './schema';

/** The agents' name in the private hosted zone (agents.platform fargate): agents.<internalTls.domain>. */
export const AGENTS_LABEL = 'agents';

/** Physical names that stacks create and operator scripts look up: one derivation for both. */
const repository = (config: KitConfig, image: string) => `${config.prefix}/${image}`;

export const names = (config: KitConfig) => ({
  stack: (component: string) => `${config.prefix}-${component}`,
  /** The global-partition IAM user the China gateway calls Bedrock as. */
  gatewayUser: `${config.prefix}-china-gateway`,
  /** The China-side secret holding that user's access key. */
  credentialSecret: `${config.prefix}/bedrock-credential`,
  /** Bucket names are global within a partition: account and region make this one unique and predictable. */
  weightsBucket: `${config.prefix}-weights-${config.china.account}-${config.china.region}`,
  /** Where stage-model puts a model's weights (and manifest.json) in the weights bucket. */
  modelPrefix: (model: { id: string; revision: string }) => `models/${model.id}/${model.revision}/`,
  /** Secret holding a domestic provider's API key (the operator puts the value). */
  providerSecret: (provider: string) => `${config.prefix}/provider/${provider}`,
  /** Parameter Store hierarchy of the self-hosted routes: the vLLM stacks write one parameter per alias, the gateway reads them all. */
  routeParameterPath: `/${config.prefix}/routes`,
  routeParameter: (alias: string) => `/${config.prefix}/routes/${alias}`,
  /** Secret holding a vLLM service's --api-key; the gateway may read the secrets under this prefix only. */
  vllmApiKeySecret: (platform: 'ec2' | 'eks', servedName: string) => `${config.prefix}/vllm/${platform}/${servedName}`,
  vllmApiKeySecretPrefix: `${config.prefix}/vllm/`,
  /** DynamoDB table of the streaming door's caller API keys (hashes only). */
  apiKeyTable: `${config.prefix}-api-keys`,
  /** The AgentCore runtime of the Agents stack (runtime names take no "-"); npm run agents finds it by this name. */
  agentRuntime: `${config.prefix.replace(/-/g, '_')}_agents`,
  /** The agents' HTTPS endpoint on Fargate (internalTls private-ca or certificate). */
  agentsInvocationUrl: `https://${AGENTS_LABEL}.${config.internalTls.domain}/invocations`,
  /** The usage ledger's bucket (records under `ledger/dt=YYYY-MM-DD/`, Athena results under `athena-results/`). */
  ledgerBucket: `${config.prefix}-ledger-${config.china.account}-${config.china.region}`,
  /** Glue database and table of the ledger (Glue names allow no "-"), and the Athena workgroup that queries it. */
  ledgerDatabase: `${config.prefix.replace(/-/g, '_')}_usage`,
  ledgerTable: 'ledger',
  ledgerWorkGroup: `${config.prefix}-usage`,
  /** The distillation state machine npm run distill starts. */
  distillStateMachine: `${config.prefix}-distill`,
  /** DynamoDB table of the quota counters and of limits set at run time (npm run api-keys -- limits). */
  quotaTable: `${config.prefix}-quotas`,
  /** The CodeBuild project npm run stage-model starts. */
  stagingProject: `${config.prefix}-stage-model`,
  /** The private ECR repository of an image the kit runs, e.g. `cnllm/vllm`. */
  repository: (image: string) => repository(config, image),
  /** A kit image in the private ECR of the region: by digest when pinned (tags can be re-pushed elsewhere), else by tag. */
  pinnedImage: (registryHost: string, image: keyof KitConfig['images']) => {
    const { digest, tag } = config.images[image];
    return `${registryHost}/${repository(config, image)}${digest ? `@${digest}` : `:${tag}`}`;
  },
});
