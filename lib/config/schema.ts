import { z } from 'zod';
import { CatalogModel, DEFAULT_BEDROCK_MODELS, NOVA_CATALOG } from '../bedrock/catalog';
import { CHINA_LAMBDA_DEFAULTS, CHINA_REGIONS, CHINA_REGION_NAMES, isChinaRegion } from '../china/china';
import { sizingProblems } from '../gpu/sizing';
import { selfHostedRoutes } from './vllm-routes';

/**
 * The kit's configuration: types, defaults and validation in one schema. Every field has a default,
 * so the app synthesizes with no input at all (the embedded demo config). Error messages say what
 * the value must be; the loader adds the field path and the bad value.
 */

/** `-c key=a,b` gives a string; a list field accepts that as a comma-separated list. */
const list = <T extends z.ZodType>(item: T, min = 0) =>
  z.preprocess(
    (v) =>
      typeof v === 'string'
        ? v
            .split(',')
            .map((s) => s.trim())
            .filter((s) => s.length > 0)
        : v,
    z.array(item).min(min, { error: `must list at least ${min}` }),
  );

const flag = (value: boolean) =>
  z.preprocess((v) => (v === 'true' ? true : v === 'false' ? false : v), z.boolean({ error: 'must be true or false' })).default(value);

const int = (min: number, max: number, what: string) =>
  z.coerce
    .number({ error: `must be a whole number (${what})` })
    .int({ error: `must be a whole number (${what})` })
    .min(min, { error: `must be at least ${min} (${what})` })
    .max(max, { error: `must be at most ${max} (${what})` });

const accountId = (example: string, which: string) =>
  z
    .string({ error: `must be a 12-digit AWS account id given as a string (the ${which} account)` })
    .regex(/^[0-9]{12}$/, { error: `must be the 12-digit id of your ${which} account, e.g. "${example}"` });

const cidr = z
  .string()
  .regex(/^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})\/(1[6-9]|2[0-8])$/, {
    error: 'must be an IPv4 CIDR with a prefix from /16 to /28, e.g. "10.80.0.0/16"',
  });

/** The kit's own VPC splits its range into a small public and a large private subnet per AZ; /20 is the smallest that leaves room for GPU nodes and EKS pods. */
const newVpcCidr = z
  .string()
  .regex(/^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})\/(1[6-9]|20)$/, {
    error: 'must be an IPv4 CIDR with a prefix from /16 to /20 (room for private subnets in every AZ), e.g. "10.80.0.0/16"',
  });

const ipv4 = z
  .string()
  .regex(/^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})(\/(3[0-2]|[12]?\d))?$/, { error: 'must be an IPv4 address or CIDR, e.g. "52.81.0.10"' });

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

/** EC2 ids end in 8 hex digits (older resources) or 17 (since 2018): nothing in between exists. */
const ec2Id = (prefix: string, what: string, example: string) =>
  z.string().regex(new RegExp(`^${prefix}-([0-9a-f]{8}|[0-9a-f]{17})$`), {
    error: `must be ${what} id: "${prefix}-" and 8 or 17 lower-case hex digits, e.g. "${example}"`,
  });

const existingVpcSchema = z
  .object({
    vpcId: ec2Id('vpc', 'a VPC', 'vpc-0abc12345def67890'),
    vpcCidrBlock: cidr,
    privateSubnetIds: list(ec2Id('subnet', 'a subnet', 'subnet-0aaa1111bbb22222c')),
    privateSubnetRouteTableIds: list(ec2Id('rtb', 'a route table', 'rtb-0aaa1111bbb22222c')),
    natEgressIps: list(ipv4).default([]),
    createEndpoints: flag(true),
  })
  .strict();

const modelSchema = z
  .object({
    id: z.string().regex(/^[A-Za-z0-9._-]+\/[A-Za-z0-9._-]+$/, { error: 'must be "<organisation>/<model>", e.g. "Qwen/Qwen2.5-1.5B-Instruct"' }),
    revision: z.string().min(1).default('master'),
    source: z.enum(['modelscope', 'local'], { error: 'must be "modelscope" (default source in China) or "local"' }).default('modelscope'),
    servedName: z
      .string()
      .regex(/^[a-z0-9][a-z0-9._-]{0,62}$/, { error: 'must be lower-case letters, digits, ".", "_" or "-" (the name clients send as "model")' }),
    parametersBillions: z.coerce
      .number({ error: 'must be the parameter count in billions, e.g. 1.5' })
      .positive({ error: 'must be the parameter count in billions, e.g. 1.5' }),
    /** GPU instance type serving this model (its family must be offered in the region). */
    instanceType: z.string().regex(/^[a-z][a-z0-9]*\.[a-z0-9]+$/, { error: 'must be an instance type such as "g5.xlarge"' }).default('g5.xlarge'),
    minInstances: int(0, 100, 'fewest instances').default(1),
    maxInstances: int(1, 100, 'most instances').default(2),
    desiredInstances: int(0, 100, 'instances at deploy').optional(),
    /** Spot capacity (cheaper, can be reclaimed with two minutes' notice). */
    spot: flag(false),
    vllm: z
      .object({
        maxModelLen: int(256, 1048576, 'context length vLLM serves').default(8192),
        gpuMemoryUtilization: z.coerce.number().min(0.5).max(0.98, { error: 'must be at most 0.98 (vLLM needs some GPU memory for itself)' }).default(0.9),
        dtype: z.enum(['auto', 'half', 'float16', 'bfloat16', 'float32'], { error: 'must be auto, half, float16, bfloat16 or float32' }).default('auto'),
        /** Default: all GPUs of the instance. */
        tensorParallelSize: int(1, 8, 'GPUs one replica spans').optional(),
        /** Quantized weights take less than the dtype implies, e.g. 0.5 for 4-bit AWQ. */
        bytesPerParameter: z.coerce.number().positive().max(4).optional(),
        /** Copy weights to local disk first, or stream them from S3 with the Run:ai streamer. */
        loadFormat: z.enum(['local', 'runai_streamer'], { error: 'must be local or runai_streamer' }).default('local'),
        extraArgs: list(z.string().regex(/^[A-Za-z0-9_.:=\/-]+$/, { error: 'must be plain vLLM arguments such as "--enable-prefix-caching" (no spaces or shell characters)' })).default([]),
      })
      .strict()
      .prefault({}),
  })
  .strict();

/** An image the kit runs, pinned by tag and (once mirrored) digest. */
const imageSchema = z
  .object({
    /** Where npm run mirror-images copies it from (outside China). */
    source: z.string().min(3),
    tag: z.string().regex(/^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$/, { error: 'must be an image tag such as "v0.9.2"' }),
    /** sha256 digest of the mirrored image: pulls use it, so a re-pushed tag cannot change what runs. */
    digest: z.string().regex(/^sha256:[0-9a-f]{64}$/, { error: 'must be "sha256:" and 64 hex digits' }).optional(),
  })
  .strict();

const globalRegion = z.string().regex(/^(us|eu|ap|ca|sa|me|af|il|mx)-[a-z]+-\d$/, { error: 'must be a global (aws partition) region such as "us-east-1"' });

/** A model of the cross-region path: a catalog name (`nova-pro`) or a full entry for anything else Bedrock serves. */
const bedrockModelSchema = z.union([
  z.enum(Object.keys(NOVA_CATALOG) as [string, ...string[]], { error: `must be one of ${Object.keys(NOVA_CATALOG).join(', ')} or a full model entry` }),
  z
    .object({
      alias: z.string().regex(/^[a-z0-9][a-z0-9._-]{0,62}$/, { error: 'must be lower-case letters, digits, ".", "_" or "-"' }),
      modelId: z.string().regex(/^[a-z0-9-]+\.[A-Za-z0-9.:-]+$/, { error: 'must be a Bedrock model id such as "amazon.nova-lite-v1:0"' }),
      profile: z.enum(['us', 'global', 'none']).default('us'),
      destinationRegions: list(globalRegion, 1),
      lifecycle: z.enum(['active', 'legacy']).default('active'),
    })
    .strict(),
], { error: `must be one of ${Object.keys(NOVA_CATALOG).join(', ')} or an object {alias, modelId, profile, destinationRegions}` });

export const KitConfigSchema = z
  .object({
    prefix: z
      .string()
      .regex(/^[a-z][a-z0-9-]{1,18}[a-z0-9]$/, { error: 'must be 3-20 lower-case letters, digits or "-", starting with a letter' })
      .default('cnllm'),
    tags: z.record(z.string().min(1).max(128), z.string().max(256)).default({}),
    china: z
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
      .prefault({}),
    global: z
      .object({
        account: accountId('444455556666', 'global (aws) Bedrock').default('444455556666'),
        region: globalRegion.default('us-east-1'),
      })
      .strict()
      .prefault({}),
    stacks: z
      .object({
        network: flag(true),
        modelStore: flag(true),
        bedrockAccess: flag(true),
        gateway: flag(true),
        vllmEc2: flag(true),
        /** vLLM on EKS GPU node groups (off by default: it creates a cluster). */
        vllmEks: flag(false),
      })
      .strict()
      .prefault({}),
    network: z
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
      .prefault({}),
    modelStore: z
      .object({
        repositories: list(
          z.string().regex(/^[a-z0-9]+([._-][a-z0-9]+)*$/, { error: 'must be ECR repository names (lower-case, digits, ".", "_", "-")' }),
        ).default(['vllm', 'tools', 'node', 'awscli']),
        keepTaggedImages: int(1, 1000, 'tagged images kept per repository').default(20),
        untaggedImageExpiryDays: int(1, 365, 'days before untagged images expire').default(7),
        noncurrentWeightsExpiryDays: int(1, 3650, 'days before overwritten weight versions expire').default(30),
        retainOnDelete: flag(true),
      })
      .strict()
      .prefault({}),
    models: z
      .array(modelSchema)
      .min(1, { error: 'must list at least one model' })
      .prefault([{ id: 'Qwen/Qwen2.5-1.5B-Instruct', servedName: 'qwen2.5-1.5b-instruct', parametersBillions: 1.5 }]),
    bedrock: z
      .object({
        /** The cross-border allow-list: only these models are callable from China. */
        models: z.array(bedrockModelSchema).min(1, { error: 'must list at least one model' }).default(DEFAULT_BEDROCK_MODELS),
        /** Pins the global credential to these source IPs (the Network stack's NatEgressIps output). Empty: usable from anywhere. */
        sourceIps: list(ipv4).default([]),
        /** Bedrock model invocation logging (prompts and completions are customer data): off unless asked. */
        invocationLogging: flag(false),
        invocationLogRetentionDays: int(1, 3653, 'days invocation logs are kept').default(90),
        /** An existing guardrail the gateway applies to every call. */
        guardrail: z
          .object({
            id: z.string().regex(/^[a-z0-9]+$/, { error: 'must be a guardrail id such as "abc123xyz"' }),
            version: z.string().regex(/^(DRAFT|\d+)$/, { error: 'must be a version number or DRAFT' }),
          })
          .strict()
          .optional(),
      })
      .strict()
      .prefault({}),
    gateway: z
      .object({
        /** REGIONAL (EDGE does not exist in China) or PRIVATE (reachable only through the VPC's execute-api endpoint). */
        endpointType: z.enum(['REGIONAL', 'PRIVATE'], { error: 'must be REGIONAL or PRIVATE (EDGE does not exist in China)' }).default('REGIONAL'),
        /** IAM (SigV4) works without an ICP licence; API_KEY needs one. */
        authorization: z.enum(['IAM', 'API_KEY'], { error: 'must be IAM or API_KEY' }).default('IAM'),
        /** Your ICP licence number: required for API_KEY, because China serves non-IAM API calls only for ICP-licensed accounts. */
        icpLicence: z.string().min(4).optional(),
        /** Response streaming through API Gateway + Lambda; reported unavailable in China, so off by default. */
        streaming: flag(false),
        /** API Gateway REST integrations end at 29 s unless the account's quota was raised (Regional/private APIs). */
        integrationTimeoutSeconds: int(5, 900, 'API Gateway integration timeout').default(29),
        rateLimit: int(1, 10000, 'steady requests per second for the stage').default(20),
        burstLimit: int(1, 5000, 'request burst for the stage').default(40),
        wafRequestsPer5MinPerIp: int(100, 2000000000, 'WAF rate limit per source IP').default(3000),
        lambdaMemoryMb: int(256, 10240, 'gateway Lambda memory').default(1024),
        maxAttempts: int(1, 10, 'Bedrock attempts per request (throttling and 5xx, before the first byte)').default(3),
        /** Log prompt and completion text. They are customer data that crossed a border: off unless explicitly wanted. */
        logContent: flag(false),
        logRetentionDays: int(1, 3653, 'days gateway logs are kept').default(365),
        /** The in-VPC streaming door: the same gateway as a container on ECS Fargate behind an internal ALB, with real token streaming. */
        streamingDoor: z
          .object({
            enabled: flag(false),
            /** API_KEY: per-caller bearer keys (npm run api-keys); STS: presigned GetCallerIdentity tokens from China IAM credentials; BOTH. */
            auth: z.enum(['API_KEY', 'STS', 'BOTH'], { error: 'must be API_KEY, STS or BOTH' }).default('API_KEY'),
            /** Accounts whose IAM principals may use STS tokens (default: the China account). */
            stsAllowedAccounts: list(z.string().regex(/^\d{12}$/, { error: 'must be 12-digit account ids' })).optional(),
            cpu: z.coerce.number().pipe(z.union([z.literal(256), z.literal(512), z.literal(1024), z.literal(2048), z.literal(4096)], { error: 'must be 256, 512, 1024, 2048 or 4096 (Fargate CPU units)' })).default(1024),
            memoryMiB: int(512, 30720, 'task memory').default(2048),
            minTasks: int(1, 100, 'fewest tasks').default(2),
            maxTasks: int(1, 100, 'most tasks').default(10),
            /** internalTls.mode certificate: your ACM certificate (arn:aws-cn:acm:...) for HTTPS, covering streaming.<internalTls.domain>. */
            certificateArn: z.string().regex(/^arn:aws-cn:acm:[a-z0-9-]+:\d{12}:certificate\/[0-9a-f-]+$/, { error: 'must be an ACM certificate ARN in China (arn:aws-cn:acm:...)' }).optional(),
            /** Idle time the load balancer allows between bytes (long generations before the first token). */
            idleTimeoutSeconds: int(60, 4000, 'load balancer idle timeout').default(900),
            /** In-flight streams may finish for this long after SIGTERM; Fargate stops a task at most 120 s after SIGTERM. */
            drainSeconds: int(5, 110, 'seconds in-flight streams may run on after SIGTERM').default(100),
            apiKeyCacheSeconds: int(0, 3600, 'seconds a key lookup is cached (revocation delay)').default(30),
            targetCpuPercent: int(10, 90, 'CPU target for scaling').default(60),
            requestsPerTaskPerMinute: int(1, 100000, 'requests per task per minute before scaling out').default(600),
            /** npm registry the image build uses (the operator's machine or CodeBuild in China). */
            npmRegistry: z.string().url().default('https://registry.npmmirror.com'),
          })
          .strict()
          .prefault({}),
        alarms: z
          .object({
            errorRatePercent: z.coerce.number().min(0.1).max(100).default(5),
            p99LatencyMs: int(100, 900000, 'p99 latency alarm threshold').default(20000),
            throttlesPer5Min: int(1, 100000, 'throttled requests in 5 minutes before alarming').default(10),
          })
          .strict()
          .prefault({}),
      })
      .strict()
      .prefault({}),
    /** One endpoint for every route: Bedrock models, self-hosted vLLM services and domestic providers. */
    routing: z
      .object({
        /** Domestic model services with an OpenAI-compatible API (DashScope/Qwen, DeepSeek, Moonshot, Zhipu...). */
        providers: z
          .array(
            z
              .object({
                name: z.string().regex(/^[a-z][a-z0-9-]{1,30}$/, { error: 'must be a short lower-case name, e.g. "dashscope"' }),
                baseUrl: z.string().url({ error: 'must be the provider\'s OpenAI-compatible base URL up to /v1, e.g. "https://dashscope.aliyuncs.com/compatible-mode/v1"' }),
                /** alias callers send -> the provider's model name. */
                models: z.array(z.object({ alias: z.string().regex(/^[a-z0-9][a-z0-9._-]{0,62}$/), model: z.string().min(1) }).strict()).min(1),
                /** The provider processes data outside mainland China. */
                crossBorder: flag(false),
                timeoutSeconds: int(5, 900, 'seconds to wait for the provider').default(300),
                maxAttempts: int(1, 5, 'attempts per request').default(2),
              })
              .strict(),
          )
          .default([]),
        /**
         * Self-hosted vLLM services (EC2, EKS) register their routes in Parameter Store
         * (`/<prefix>/routes/<alias>`, alias = served model name) and the gateway reads them at run time.
         * false: the vLLM stacks write nothing and the gateway reads no registry.
         */
        registerVllm: flag(true),
        /** Seconds the gateway reuses a read of the route registry: a route registered or removed is served or dropped at most this much later. @default 60 */
        registryRefreshSeconds: int(5, 3600, 'seconds between reads of the route registry').default(60),
        /** alias -> aliases tried next on retryable errors before the first byte, e.g. {"qwen2.5-7b-instruct": ["qwen-max", "nova-pro"]}. */
        fallbacks: z.record(z.string(), list(z.string())).default({}),
        /** china-only: no request leaves mainland China (cross-border routes are refused). */
        residency: z.enum(['any', 'china-only'], { error: 'must be any or china-only' }).default('any'),
      })
      .strict()
      .prefault({}),
    lambda: z
      .object({
        /** nodejs24.x is not confirmed in China; every Node.js function of the kit (CDK's own included) uses this. */
        runtime: z
          .enum(['nodejs20.x', 'nodejs22.x', 'nodejs24.x'], { error: 'must be nodejs20.x, nodejs22.x or nodejs24.x (nodejs22.x is the newest confirmed in China)' })
          .default(CHINA_LAMBDA_DEFAULTS.runtime),
        /** CDK's Python handlers (EKS kubectl) would pick the newest Python, which China may not have yet. */
        pythonRuntime: z.enum(['python3.11', 'python3.12', 'python3.13'], { error: 'must be python3.11, python3.12 or python3.13' }).default('python3.12'),
        architecture: z
          .enum(['x86_64', 'arm64'], { error: 'must be x86_64 or arm64 (arm64 Lambda is not confirmed in China)' })
          .default(CHINA_LAMBDA_DEFAULTS.architecture),
      })
      .strict()
      .prefault({}),
    /**
     * Images the kit runs, pinned. `source` is where `npm run mirror-images` copies each one from, on an
     * operator's machine outside China; what deploys and runs pulls only the private ECR copy (the
     * ChinaRegion rules check every template for unreachable registries).
     */
    images: z
      .object({
        vllm: imageSchema.prefault({ source: 'docker.io/vllm/vllm-openai:v0.9.2', tag: 'v0.9.2' }),
        /** Python for the staging build (CodeBuild); the AWS CLI and ModelScope client are pip-installed from staging.pipIndexUrl. */
        tools: imageSchema.prefault({ source: 'docker.io/library/python:3.12-slim', tag: '3.12-slim' }),
        /** Base of the streaming gateway's container image (built at deploy time from runtime/server/Dockerfile). */
        node: imageSchema.prefault({ source: 'docker.io/library/node:22-slim', tag: '22-slim' }),
        /** AWS CLI for EKS pods: copies weights and reads the API key at pod start. */
        awscli: imageSchema.prefault({ source: 'public.ecr.aws/aws-cli/aws-cli:2.27.50', tag: '2.27.50' }),
        /** NVIDIA device plugin, only for AL2023 GPU nodes (Bottlerocket NVIDIA has it built in). */
        deviceplugin: imageSchema.prefault({ source: 'nvcr.io/nvidia/k8s-device-plugin:v0.17.2', tag: 'v0.17.2' }),
      })
      .strict()
      .prefault({}),
    vllmEks: z
      .object({
        /** Kubernetes versions with a kubectl layer in aws-cdk (the kit deploys manifests through it). */
        kubernetesVersion: z.enum(['1.34', '1.35'], { error: 'must be 1.34 or 1.35 (the kubectl layer is v1.35; kubectl supports one minor version of skew)' }).default('1.35'),
        endpointAccess: z.enum(['PRIVATE', 'PUBLIC_AND_PRIVATE'], { error: 'must be PRIVATE or PUBLIC_AND_PRIVATE' }).default('PRIVATE'),
        /** Who may reach a public API endpoint. */
        publicAccessCidrs: list(ipv4).default([]),
        /** IAM role (arn:aws-cn:iam::...) given cluster admin through an access entry. */
        adminRoleArn: z.string().regex(/^arn:aws-cn:iam::\d{12}:role\/[\w+=,.@/-]+$/, { error: 'must be an IAM role ARN in China (arn:aws-cn:iam::<account>:role/<name>)' }).optional(),
        systemInstanceType: z.string().regex(/^[a-z][a-z0-9]*\.[a-z0-9]+$/).default('m5.large'),
        systemNodes: int(1, 10, 'system nodes').default(2),
        /** Bottlerocket NVIDIA ships the device plugin (nothing from nvcr.io); AL2023 NVIDIA needs it installed from the private ECR. */
        gpuAmi: z.enum(['BOTTLEROCKET', 'AL2023'], { error: 'must be BOTTLEROCKET or AL2023' }).default('BOTTLEROCKET'),
        startupBudgetSeconds: int(120, 3600, 'seconds the startup probe allows for pull, copy and load').default(900),
        /** Scale out on vllm:num_requests_waiting per replica (needs a metrics adapter); 0 disables the HPA. */
        targetWaitingRequests: int(0, 1000, 'waiting requests per replica').default(0),
        /** How long the deploy waits for Kubernetes to create each internal NLB (the kubectl handler runs at most 15 min). */
        loadBalancerWaitMinutes: int(1, 14, 'minutes to wait for the internal NLB').default(10),
      })
      .strict()
      .prefault({}),
    staging: z
      .object({
        /** A PyPI mirror reachable from China (pypi.org is slow there). */
        pipIndexUrl: z.string().url({ error: 'must be the URL of a PyPI simple index, e.g. "https://mirrors.aliyun.com/pypi/simple/"' }).default('https://mirrors.aliyun.com/pypi/simple/'),
        /** Pinned client packages (unverified versions: adjust to what your mirror serves). */
        pipPackages: list(z.string().regex(/^[A-Za-z0-9_.-]+==[A-Za-z0-9_.+-]+$/, { error: 'must be pinned requirements such as "modelscope==1.28.0"' }), 1).default([
          'modelscope==1.28.0',
          'awscli==1.40.0',
        ]),
        /** CodeBuild compute: disk limits the largest model (LARGE: about 128 GB). */
        computeType: z.enum(['BUILD_GENERAL1_MEDIUM', 'BUILD_GENERAL1_LARGE', 'BUILD_GENERAL1_XLARGE', 'BUILD_GENERAL1_2XLARGE']).default('BUILD_GENERAL1_LARGE'),
        timeoutMinutes: int(10, 2160, 'minutes a staging build may run').default(480),
      })
      .strict()
      .prefault({}),
    vllmEc2: z
      .object({
        /** internalTls.mode certificate: your ACM certificate for the load balancers' HTTPS listeners, covering <served name>.<internalTls.domain>. */
        certificateArn: z.string().regex(/^arn:aws-cn:acm:[a-z0-9-]+:\d{12}:certificate\/[0-9a-f-]+$/, { error: 'must be an ACM certificate ARN in China (arn:aws-cn:acm:...)' }).optional(),
        /** Model load takes minutes (image pull, weights copy, CUDA graphs): health checks must wait. */
        healthCheckGraceSeconds: int(60, 3600, 'seconds before a new instance is health-checked').default(1200),
        /** Target tracking: requests per instance per minute before scaling out. */
        requestsPerInstancePerMinute: int(1, 100000, 'requests per instance per minute').default(120),
        /** Root volume above image and weights (OS, Docker, logs). */
        baseVolumeGiB: int(30, 1000, 'GiB of root volume besides image and weights').default(60),
      })
      .strict()
      .prefault({}),
    /**
     * TLS on the kit's internal load balancers (vLLM on EC2, the streaming door): API keys and prompts
     * cross them. private-ca: an ACM Private CA in the region issues and renews certificates for
     * names in a private hosted zone (no public domain or ICP filing needed; a general-purpose CA is
     * billed monthly, plus per certificate: see the AWS China price list). certificate: your own ACM
     * certificates (vllmEc2.certificateArn, gateway.streamingDoor.certificateArn) covering
     * <name>.<domain>. plain-http: no TLS inside the VPC, reported as an acknowledged finding.
     */
    internalTls: z
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
      })
      .strict()
      .prefault({}),
    /** Who is told when an alarm fires or recovers: every stack's alarms notify its own KMS-encrypted topic with these subscribers. */
    alarms: z
      .object({
        /** E-mail addresses (each confirms its subscription once, from the mail SNS sends). */
        email: list(z.string().email({ error: 'must be e-mail addresses, e.g. "ops@example.com"' })).default([]),
        /** HTTPS endpoints SNS posts notifications to (chat-ops webhooks, paging services); they confirm the subscription once. */
        httpsEndpoints: list(z.string().url({ error: 'must be https:// URLs of endpoints that accept SNS notifications' }).startsWith('https://', { error: 'must be https:// URLs (SNS delivers alarms over TLS only)' })).default([]),
      })
      .strict()
      .prefault({}),
    gpu: z
      .object({
        /** Overrides the region's GPU family allow-list in lib/china (AWS publishes no authoritative list). */
        allowedInstanceFamilies: list(z.string().regex(/^[a-z][a-z0-9-]*$/, { error: 'must be instance families such as "g5"' })).optional(),
      })
      .strict()
      .prefault({}),
  })
  .strict()
  // Cross-field checks run even when other fields failed (so every problem is listed at once);
  // each guards against the partly-invalid shapes it may see then.
  .superRefine(
    (c, ctx) => {
    const region = c.china?.region;
    if (!isChinaRegion(region)) return;
    const regionAzs = CHINA_REGIONS[region].availabilityZones;
    const azs = Array.isArray(c.china.availabilityZones) ? c.china.availabilityZones : [...regionAzs];
    azs.forEach((az, i) => {
      if (!regionAzs.includes(az)) {
        ctx.addIssue({
          code: 'custom',
          path: ['china', 'availabilityZones', i],
          message: `is not an availability zone of ${region}; use some of ${regionAzs.join(', ')}`,
        });
      }
    });
    if (new Set(azs).size !== azs.length) {
      ctx.addIssue({ code: 'custom', path: ['china', 'availabilityZones'], message: 'lists an availability zone twice; list each once' });
    }
    if (azs.length < 2) {
      ctx.addIssue({ code: 'custom', path: ['china', 'availabilityZones'], message: 'must list at least 2 availability zones (ALB and HA need two)' });
    }
    if (typeof c.network?.natGateways === 'number' && c.network.natGateways <= 3 && c.network.natGateways > azs.length) {
      ctx.addIssue({
        code: 'custom',
        path: ['network', 'natGateways'],
        message: `must be at most the number of availability zones (${azs.length}); one NAT gateway per AZ is the most that helps`,
      });
    }
    const existing = c.network?.existingVpc;
    if (existing) {
      for (const key of ['privateSubnetIds', 'privateSubnetRouteTableIds'] as const) {
        if (Array.isArray(existing[key]) && existing[key].length !== azs.length) {
          ctx.addIssue({
            code: 'custom',
            path: ['network', 'existingVpc', key],
            message: `must list one entry per availability zone in china.availabilityZones (${azs.length}), in the same order`,
          });
        }
      }
    }
    const families = Array.isArray(c.gpu?.allowedInstanceFamilies) ? c.gpu.allowedInstanceFamilies : [...CHINA_REGIONS[region].gpuInstanceFamilies];
    (Array.isArray(c.models) ? c.models : []).forEach((m, i) => {
      if (!m || typeof m.instanceType !== 'string' || typeof m.parametersBillions !== 'number' || !m.vllm) return;
      for (const problem of sizingProblems({ ...m, ...m.vllm }, families, region)) {
        ctx.addIssue({ code: 'custom', path: ['models', i, ...problem.field.split('.')], message: problem.message });
      }
      if (typeof m.maxInstances === 'number' && typeof m.minInstances === 'number' && m.minInstances > m.maxInstances) {
        ctx.addIssue({ code: 'custom', path: ['models', i, 'minInstances'], message: `must not exceed maxInstances (${m.maxInstances})` });
      }
      const desired = m.desiredInstances;
      if (typeof desired === 'number' && (desired < m.minInstances || desired > m.maxInstances)) {
        ctx.addIssue({ code: 'custom', path: ['models', i, 'desiredInstances'], message: `must lie between minInstances (${m.minInstances}) and maxInstances (${m.maxInstances})` });
      }
    });
    const served = Array.isArray(c.models) ? c.models.map((m) => m?.servedName) : [];
    served.forEach((name, i) => {
      if (served.indexOf(name) !== i) {
        ctx.addIssue({ code: 'custom', path: ['models', i, 'servedName'], message: 'is used by another model; served names must be unique' });
      }
    });
    // Stacks that build on others: every missing one listed at once, before anything is constructed.
    const needsNetworkAndStore = { vllmEc2: 'vLLM on EC2', vllmEks: 'vLLM on EKS' } as const;
    for (const [stack, what] of Object.entries(needsNetworkAndStore)) {
      if (c.stacks?.[stack as keyof typeof needsNetworkAndStore] && !(c.stacks.network && c.stacks.modelStore)) {
        ctx.addIssue({ code: 'custom', path: ['stacks', stack], message: `${what} needs the kit's network and model store; enable stacks.network and stacks.modelStore too` });
      }
    }
    if (c.stacks?.gateway && !c.stacks.network) {
      ctx.addIssue({ code: 'custom', path: ['stacks', 'gateway'], message: 'the gateway runs in the kit\'s VPC; enable stacks.network too (it can reuse an existing VPC)' });
    }
    if (c.stacks?.vllmEc2 && Array.isArray(c.modelStore?.repositories) && !c.modelStore.repositories.includes('vllm')) {
      ctx.addIssue({ code: 'custom', path: ['modelStore', 'repositories'], message: 'must include "vllm" while stacks.vllmEc2 is on: the instances pull the vLLM image from it' });
    }
    const door = c.gateway?.streamingDoor;
    if (door?.enabled && c.stacks?.gateway) {
      if (!c.stacks.modelStore) ctx.addIssue({ code: 'custom', path: ['gateway', 'streamingDoor', 'enabled'], message: 'needs stacks.modelStore: its base image and access logs live there' });
      if (Array.isArray(c.modelStore?.repositories) && !c.modelStore.repositories.includes('node')) {
        ctx.addIssue({ code: 'custom', path: ['modelStore', 'repositories'], message: 'must include "node" while gateway.streamingDoor is on: its image is built on the mirrored Node.js base' });
      }
      if (typeof door.minTasks === 'number' && typeof door.maxTasks === 'number' && door.minTasks > door.maxTasks) {
        ctx.addIssue({ code: 'custom', path: ['gateway', 'streamingDoor', 'minTasks'], message: `must not exceed maxTasks (${door.maxTasks})` });
      }
    }
    if (c.stacks?.vllmEks) {
      const needed = ['vllm', 'awscli', ...(c.vllmEks?.gpuAmi === 'AL2023' ? ['deviceplugin'] : [])];
      const repos = Array.isArray(c.modelStore?.repositories) ? c.modelStore.repositories : [];
      const missing = needed.filter((r) => !repos.includes(r));
      if (missing.length > 0) ctx.addIssue({ code: 'custom', path: ['modelStore', 'repositories'], message: `must include ${missing.map((m) => `"${m}"`).join(', ')} while stacks.vllmEks is on: EKS pods pull these from the private ECR` });
      if (c.vllmEks?.endpointAccess === 'PUBLIC_AND_PRIVATE' && Array.isArray(c.vllmEks.publicAccessCidrs) && c.vllmEks.publicAccessCidrs.length === 0) {
        ctx.addIssue({ code: 'custom', path: ['vllmEks', 'publicAccessCidrs'], message: 'must list the CIDRs allowed to reach the public API endpoint (an open endpoint is not allowed)' });
      }
    }
    if (c.routing && Array.isArray(c.routing.providers) && Array.isArray(c.bedrock?.models) && Array.isArray(c.models)) {
      const aliases = new Set<string>([
        ...c.bedrock.models.map((m) => (typeof m === 'string' ? m : m?.alias)),
        ...c.routing.providers.flatMap((p) => (Array.isArray(p?.models) ? p.models.map((m) => m?.alias) : [])),
        ...(c.routing.registerVllm ? selfHostedRoutes(c.models.map((m) => m?.servedName), { ec2: !!c.stacks?.vllmEc2, eks: !!c.stacks?.vllmEks }).map((r) => r.alias) : []),
      ]);
      for (const [alias, next] of Object.entries(c.routing.fallbacks ?? {})) {
        for (const name of [alias, ...(Array.isArray(next) ? next : [])]) {
          if (!aliases.has(name)) ctx.addIssue({ code: 'custom', path: ['routing', 'fallbacks', alias], message: `names "${name}", which no route serves; routed models are ${[...aliases].join(', ')}` });
        }
      }
    }
    if (c.gateway?.endpointType === 'PRIVATE' && c.network?.existingVpc?.createEndpoints === false) {
      ctx.addIssue({
        code: 'custom',
        path: ['gateway', 'endpointType'],
        message: 'PRIVATE needs an execute-api VPC endpoint, which the kit creates with the others; set network.existingVpc.createEndpoints to true or use REGIONAL',
      });
    }
    if (c.gateway?.authorization === 'API_KEY' && !c.gateway.icpLicence) {
      ctx.addIssue({
        code: 'custom',
        path: ['gateway', 'icpLicence'],
        message: 'is required with gateway.authorization API_KEY: API Gateway in China serves requests that are not IAM-authorized only for ICP-licensed accounts; set your licence number or use IAM',
      });
    }
    if (Array.isArray(c.bedrock?.models)) {
      const aliases = c.bedrock.models.map((m) => (typeof m === 'string' ? m : m?.alias));
      aliases.forEach((alias, i) => {
        if (aliases.indexOf(alias) !== i) ctx.addIssue({ code: 'custom', path: ['bedrock', 'models', i], message: 'repeats a model alias; list each model once' });
      });
    }
    const tls = c.internalTls;
    if (tls) {
      const certificates = [
        { path: ['vllmEc2', 'certificateArn'], arn: c.vllmEc2?.certificateArn, used: !!c.stacks?.vllmEc2 },
        { path: ['gateway', 'streamingDoor', 'certificateArn'], arn: c.gateway?.streamingDoor?.certificateArn, used: !!(c.stacks?.gateway && c.gateway?.streamingDoor?.enabled) },
      ];
      const mode = effectiveTlsMode(tls.mode, certificates.some((x) => x.arn));
      for (const cert of certificates) {
        if (mode === 'certificate' && cert.used && !cert.arn) {
          ctx.addIssue({ code: 'custom', path: cert.path, message: `is required with internalTls.mode certificate${tls.mode ? '' : ' (chosen because another certificateArn is set)'}: an ACM certificate covering the load balancer's name in internalTls.domain; or set internalTls.mode to private-ca` });
        }
        if (mode !== 'certificate' && cert.arn) {
          ctx.addIssue({ code: 'custom', path: cert.path, message: `is used only with internalTls.mode certificate (the mode is ${mode}); remove it or set internalTls.mode to certificate` });
        }
      }
      if (mode !== 'plain-http' && c.stacks?.vllmEc2) {
        const labels = served.map((name) => (typeof name === 'string' ? privateDnsLabel(name) : name));
        labels.forEach((label, i) => {
          if (labels.indexOf(label) !== i && served.indexOf(served[i]) === i) {
            ctx.addIssue({ code: 'custom', path: ['models', i, 'servedName'], message: `gets the same private name (${label}.<internalTls.domain>) as another model: "." and "_" become "-" in DNS names; rename one` });
          }
        });
      }
      if (tls.certificateAuthorityArn && mode !== 'private-ca') {
        ctx.addIssue({ code: 'custom', path: ['internalTls', 'certificateAuthorityArn'], message: `is used only with internalTls.mode private-ca (the mode is ${mode}); remove it or set the mode to private-ca` });
      }
    }
    for (const key of Object.keys(c.tags ?? {})) {
      if (key.toLowerCase().startsWith('aws:')) {
        ctx.addIssue({ code: 'custom', path: ['tags', key], message: 'tag keys starting with "aws:" are reserved by AWS; rename the tag' });
      }
    }
    },
    { when: () => true },
  )
  .transform((c) => {
    const region = c.china.region as keyof typeof CHINA_REGIONS;
    const availabilityZones = c.china.availabilityZones ?? [...CHINA_REGIONS[region].availabilityZones];
    return {
      ...c,
      china: { ...c.china, region, availabilityZones },
      network: {
        ...c.network,
        natGateways: c.network.natGateways ?? availabilityZones.length,
        // A PRIVATE API is reachable only through the VPC's execute-api endpoint.
        interfaceEndpoints: c.gateway.endpointType === 'PRIVATE' ? [...new Set([...c.network.interfaceEndpoints, 'execute-api' as const])] : c.network.interfaceEndpoints,
      },
      gpu: { allowedInstanceFamilies: c.gpu.allowedInstanceFamilies ?? [...CHINA_REGIONS[region].gpuInstanceFamilies] },
      internalTls: {
        ...c.internalTls,
        mode: effectiveTlsMode(c.internalTls.mode, !!(c.vllmEc2.certificateArn || c.gateway.streamingDoor.certificateArn)),
        domain: c.internalTls.domain ?? `${c.prefix}.internal`,
      },
      bedrock: { ...c.bedrock, models: c.bedrock.models.map(resolveBedrockModel) },
    };
  });

/** A served model name as a DNS label of its private name: "." and "_" are not hostname characters there (qwen2.5-7b → qwen2-5-7b). */
export function privateDnsLabel(name: string): string {
  return name.replace(/[._]/g, '-');
}

/** An explicit mode wins; otherwise configured certificates mean `certificate`, and TLS from the kit's own private CA is the default. */
function effectiveTlsMode(mode: 'private-ca' | 'certificate' | 'plain-http' | undefined, certificateConfigured: boolean) {
  return mode ?? (certificateConfigured ? 'certificate' : 'private-ca');
}

export interface BedrockModel extends CatalogModel {
  /** What callers send as `model`. */
  readonly alias: string;
}

function resolveBedrockModel(entry: string | (Omit<CatalogModel, 'note'> & { alias: string })): BedrockModel {
  return typeof entry === 'string' ? { alias: entry, ...NOVA_CATALOG[entry] } : entry;
}

/** The validated configuration the stacks receive. */
export type KitConfig = z.output<typeof KitConfigSchema>;
