/** The OpenAI-compatible front doors (REST API, streaming door) and the routes behind them. */
import { z } from 'zod';
import { list, flag, int } from './primitives';

export const gatewaySection = z
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
    /** Bedrock embedding calls one request may have in flight (Titan and Nova embed one text per call): bounded so one caller cannot take the account's InvokeModel quota. @default 8 */
    embeddingConcurrency: int(1, 64, 'embedding calls in flight per request').default(8),
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
  .prefault({});

/** One endpoint for every route: Bedrock models, self-hosted vLLM services and domestic providers. */
export const routingSection = z
  .object({
    /** Domestic model services with an OpenAI-compatible API (DashScope/Qwen, DeepSeek, Moonshot, Zhipu...). */
    providers: z
      .array(
        z
          .object({
            name: z.string().regex(/^[a-z][a-z0-9-]{1,30}$/, { error: 'must be a short lower-case name, e.g. "dashscope"' }),
            baseUrl: z.string().url({ error: 'must be the provider\'s OpenAI-compatible base URL up to /v1, e.g. "https://dashscope.aliyuncs.com/compatible-mode/v1"' }),
            /** alias callers send -> the provider's model name. */
            models: z
              .array(
                z
                  .object({
                    alias: z.string().regex(/^[a-z0-9][a-z0-9._-]{0,62}$/),
                    model: z.string().min(1),
                    /** What the provider's model does: chat (/chat/completions), embed (/embeddings) or rerank (/rerank, passed through). @default chat */
                    kind: z.enum(['chat', 'embed', 'rerank'], { error: 'must be chat, embed or rerank' }).default('chat'),
                    /** Embedding models: inputs the provider takes per call (DashScope's text-embedding-v3: 10); longer batches are split and reassembled in order. @default no limit */
                    maxInputsPerCall: int(1, 2048, 'inputs per embedding call').optional(),
                  })
                  .strict(),
              )
              .min(1),
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
  .prefault({});
