/** Open models served by vLLM in China: the models, their images, weights store, staging and the EC2/EKS platforms. */
import { z } from 'zod';
import { adapterSchema } from './distill';
import { list, flag, int, ipv4 } from './primitives';

/** The values vLLM's --max-lora-rank accepts. */
export const VLLM_LORA_RANKS: readonly number[] = [8, 16, 32, 64, 128, 256, 320, 512];

export const modelSchema = z
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
    /**
     * What the model serves: generate (chat, /v1/chat/completions), embed (/v1/embeddings, vLLM
     * --task embed) or rerank (a cross-encoder such as bge-reranker-v2-m3: /v1/rerank, vLLM --task score).
     * @default generate
     */
    task: z.enum(['generate', 'embed', 'rerank'], { error: 'must be generate, embed or rerank' }).default('generate'),
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
        /** --max-loras: adapters one batch may mix. @default the number of adapters */
        maxLoras: int(1, 64, 'adapters in one batch').optional(),
        /** --max-lora-rank: at least the largest adapter's rank (distill.training.loraR for the pipeline's). @default 16 */
        maxLoraRank: int(8, 512, 'largest LoRA rank served')
          .refine((r) => VLLM_LORA_RANKS.includes(r), { error: `must be one of ${VLLM_LORA_RANKS.join(', ')} (the ranks vLLM accepts)` })
          .default(16),
      })
      .strict()
      .prefault({}),
    /** LoRA adapters served on top of this model (`adapters/<name>/<version>/` in the weights bucket), each a routed alias of its own. @default [] */
    adapters: z.array(adapterSchema).default([]),
  })
  .strict()
  .superRefine((m, ctx) => {
    const i = m.vllm.extraArgs.findIndex((a) => a === '--task' || a.startsWith('--task='));
    if (i >= 0) ctx.addIssue({ code: 'custom', path: ['vllm', 'extraArgs', i], message: 'sets --task, which the kit derives from the model\'s task field: set task (generate, embed or rerank) instead' });
  });

/** An image the kit runs, pinned by tag and (once mirrored) digest. */
export const imageSchema = z
  .object({
    /** Where npm run mirror-images copies it from (outside China). */
    source: z.string().min(3),
    tag: z.string().regex(/^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$/, { error: 'must be an image tag such as "v0.9.2"' }),
    /** sha256 digest of the mirrored image: pulls use it, so a re-pushed tag cannot change what runs. */
    digest: z.string().regex(/^sha256:[0-9a-f]{64}$/, { error: 'must be "sha256:" and 64 hex digits' }).optional(),
    /**
     * The platform npm run mirror-images takes from a multi-arch source (GPU instances and Lambda-built
     * images are x86_64; AgentCore Runtime runs arm64 only).
     * @default "linux/amd64"
     */
    platform: z.enum(['linux/amd64', 'linux/arm64'], { error: 'must be "linux/amd64" or "linux/arm64"' }).default('linux/amd64'),
  })
  .strict();

export const modelsSection = z
  .array(modelSchema)
  .min(1, { error: 'must list at least one model' })
  .prefault([{ id: 'Qwen/Qwen2.5-1.5B-Instruct', servedName: 'qwen2.5-1.5b-instruct', parametersBillions: 1.5 }]);

export const modelStoreSection = z
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
  .prefault({});

/**
 * Images the kit runs, pinned. `source` is where `npm run mirror-images` copies each one from, on an
 * operator's machine outside China; what deploys and runs pulls only the private ECR copy (the
 * ChinaRegion rules check every template for unreachable registries).
 */
export const imagesSection = z
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
    /**
     * Distillation training (SageMaker): the AWS Deep Learning Container, pulled from AWS's ECR account in
     * China (distill.training.image dlc, with this tag) or mirrored into <prefix>/training (mirror).
     * The tag is not confirmed to be published in China: check the DLC list for your region.
     */
    training: imageSchema.prefault({
      source: '727897471807.dkr.ecr.cn-northwest-1.amazonaws.com.cn/huggingface-pytorch-training:2.3.0-transformers4.48.0-gpu-py311-cu121-ubuntu20.04',
      tag: '2.3.0-transformers4.48.0-gpu-py311-cu121-ubuntu20.04',
    }),
  })
  .strict()
  .prefault({});

export const stagingSection = z
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
  .prefault({});

export const vllmEc2Section = z
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
  .prefault({});

export const vllmEksSection = z
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
  .prefault({});

export const gpuSection = z
  .object({
    /** Overrides the region's GPU family allow-list in lib/china (AWS publishes no authoritative list). */
    allowedInstanceFamilies: list(z.string().regex(/^[a-z][a-z0-9-]*$/, { error: 'must be instance families such as "g5"' })).optional(),
  })
  .strict()
  .prefault({});
