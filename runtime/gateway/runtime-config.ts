import { z } from 'zod';
import { QuotaRuntimeConfigSchema } from '../quota/quota-config';

/**
 * What the gateway needs at run time, passed by the stack as one JSON environment variable.
 * It holds no secret: the Bedrock credential is read from Secrets Manager by its id.
 */
export const GatewayRuntimeConfigSchema = z.object({
  /** Region of the Bedrock side (global partition). */
  bedrockRegion: z.string().default('us-east-1'),
  /** Overrides the Bedrock endpoint (local runs against a loopback server). */
  bedrockEndpoint: z.string().url().optional(),
  /** Secrets Manager secret (in this China region) holding {accessKeyId, secretAccessKey}. Unset: the default credential chain (local runs). */
  credentialSecretId: z.string().optional(),
  /** Region of the secret (the China region the gateway runs in). */
  secretRegion: z.string().optional(),
  secretsEndpoint: z.string().url().optional(),
  models: z
    .array(
      z.object({
        /** What callers send as `model`, e.g. `nova-pro`. */
        alias: z.string(),
        /** Inference profile or model id called in Bedrock, e.g. `us.amazon.nova-pro-v1:0`. */
        modelId: z.string(),
        /** Created timestamp reported by /v1/models. */
        created: z.number().default(0),
        /** `bedrock`, or the name of an OpenAI-compatible upstream (a vLLM service, a domestic provider). */
        route: z.string().default('bedrock'),
        /**
         * Bedrock models only. `effort`: `reasoning_effort` becomes Converse's
         * additionalModelRequestFields.reasoningConfig {type: enabled, maxReasoningEffort} (Nova 2).
         * Unset (`none`): the model has no reasoning setting and `reasoning_effort` is refused. @default none
         */
        reasoning: z.enum(['none', 'effort']).optional(),
        /**
         * Bedrock models only: how `response_format` json_schema is honoured. `native`: Converse's
         * outputConfig.textFormat (structured outputs); `tool`: a forced tool whose input schema is the
         * schema (Nova's constrained decoding). json_object always uses the forced tool. @default tool
         */
        structuredOutput: z.enum(['tool', 'native']).optional(),
        /**
         * Bedrock models only: where the gateway places Converse cache points (prompt caching).
         * `system`: after the system prompt; `system-and-tools`: after the tool definitions too (models
         * that cache tools, not Nova). @default off
         */
        promptCaching: z.enum(['off', 'system', 'system-and-tools']).optional(),
        /** What the model does, so which endpoint serves it (chat: /v1/chat/completions, embed: /v1/embeddings, rerank: /v1/rerank). @default chat */
        kind: z.enum(['chat', 'embed', 'rerank', 'image']).default('chat'),
        /** Bedrock models called outside bedrockRegion (Amazon Rerank is not offered in us-east-1). @default bedrockRegion */
        region: z.string().optional(),
        /** Embedding models: inputs the upstream takes per call; a longer input list is split and reassembled in order. @default no limit */
        maxInputsPerCall: z.number().int().min(1).optional(),
      }),
    )
    .min(1),
  /** OpenAI-compatible upstreams: self-hosted vLLM (through the VPC) and domestic model services. */
  upstreams: z
    .array(
      z.object({
        name: z.string(),
        kind: z.enum(['vllm', 'provider']),
        /** Base URL up to and including /v1, e.g. http://internal-alb.../v1 or https://dashscope.aliyuncs.com/compatible-mode/v1. */
        baseUrl: z.string().url(),
        /** Secrets Manager secret holding the upstream's API key (plain string or {"apiKey": "..."}). */
        apiKeySecretId: z.string().optional(),
        /** The request leaves mainland China on this route. */
        crossBorder: z.boolean().default(false),
        timeoutMs: z.number().int().min(1000).default(300000),
        maxAttempts: z.number().int().min(1).max(10).default(2),
        /** CA certificates (PEM) trusted for this upstream besides the public roots: the kit's private CA for internal load balancers. */
        caCertificates: z.array(z.string().includes('BEGIN CERTIFICATE')).optional(),
      }),
    )
    .default([]),
  /**
   * Self-hosted routes the vLLM stacks register at run time (Parameter Store, one parameter per
   * alias under `parameterPath`), merged with `models` and `upstreams`. Unset: static routes only.
   */
  routeRegistry: z
    .object({
      /** The hierarchy the vLLM stacks write, e.g. `/cnllm/routes`. */
      parameterPath: z.string().regex(/^\/[A-Za-z0-9_.\-/]*[A-Za-z0-9_.-]$/),
      /** Region of the parameters (the China region the gateway runs in). */
      region: z.string(),
      /** Overrides the Parameter Store endpoint (loopback stand-ins). */
      endpoint: z.string().url().optional(),
      /** A read is reused this long: a newly written route is served at most this many seconds later, a removed one stops being served. */
      refreshSeconds: z.number().int().min(1).max(3600).default(60),
      /** Upstream settings of registered routes (the host's time budget). */
      timeoutMs: z.number().int().min(1000).default(300000),
      maxAttempts: z.number().int().min(1).max(10).default(2),
      /** CAs (PEM) trusted for registered routes besides the public roots: the kit's private CA that issued the load balancers' certificates. @default none */
      caCertificates: z.array(z.string().includes('BEGIN CERTIFICATE')).optional(),
    })
    .optional(),
  /** Bedrock in the global region is outside China. */
  bedrockCrossBorder: z.boolean().default(true),
  /** alias -> aliases tried next, only on errors safe to retry and only before the first byte reached the caller. */
  fallbacks: z.record(z.string(), z.array(z.string())).default({}),
  /** china-only: no request leaves China (routes marked crossBorder are refused); callers can also ask per request. */
  residency: z.enum(['any', 'china-only']).default('any'),
  guardrail: z.object({ id: z.string(), version: z.string() }).optional(),
  /** Log prompt and completion text. Off: they are customer data and may not leave the logs' owner. */
  logContent: z.boolean().default(false),
  retry: z
    .object({
      maxAttempts: z.number().int().min(1).max(10).default(3),
      baseDelayMs: z.number().int().min(1).default(200),
      maxDelayMs: z.number().int().min(1).default(4000),
    })
    .prefault({}),
  timeouts: z
    .object({
      connectMs: z.number().int().min(100).default(3000),
      /** Nova can think for minutes: the socket timeout must outlast the longest generation. */
      requestMs: z.number().int().min(1000).default(300000),
      /**
       * Longest silence accepted inside a stream (Bedrock or an OpenAI-compatible upstream) once it
       * started: after it the stream ends with an SSE error (upstream_stream_idle) and the upstream
       * connection is closed, instead of holding the caller until the socket timeout. @default 60000
       */
      streamIdleMs: z.number().int().min(1000).default(60000),
    })
    .prefault({}),
  /**
   * The host's own limit on one request (API Gateway's integration timeout in front of the Lambda):
   * retries, backoff and streams end within it with a 504 deadline_exceeded the caller can read,
   * instead of the platform cutting the connection. Unset: no host limit (the streaming door, the
   * local runner). The stack sets it for the Lambda. @default undefined
   */
  integrationTimeoutMs: z.number().int().min(1000).optional(),
  /**
   * Sockets a process may hold open to Bedrock at once. A streaming call holds its socket for the
   * whole generation, so this caps concurrent Bedrock streams per process: the SDK's own default
   * (50) makes the 51st stream of a streaming door wait for another to end. Idle sockets are kept
   * alive and reused. The Lambda serves one request at a time and never comes near it.
   * @default 1000 (well above what one door task's CPU streams at once)
   */
  bedrockMaxSockets: z.number().int().min(1).default(1000),
  /**
   * Bedrock embedding calls one request may have in flight at once: Titan and Nova embed one text per
   * InvokeModel call, so an input of many texts fans out, bounded so one caller cannot take the
   * account's Bedrock quota (and the process's sockets) alone. @default 8
   */
  embeddingConcurrency: z.number().int().min(1).max(64).default(8),
  /** Limits, budgets and prices per identity and group (runtime/quota). @default unset (no checks, no cost) */
  quotas: QuotaRuntimeConfigSchema.optional(),
  /** API Gateway accepts 10 MB; Lambda's synchronous payload limit is 6 MB. */
  maxBodyBytes: z.number().int().min(1024).default(6 * 1024 * 1024),
});

export type GatewayRuntimeConfig = z.output<typeof GatewayRuntimeConfigSchema>;

export const RUNTIME_CONFIG_ENV = 'CNLLM_GATEWAY_CONFIG';

export function runtimeConfigFromEnv(env: NodeJS.ProcessEnv = process.env): GatewayRuntimeConfig {
  const raw = env[RUNTIME_CONFIG_ENV];
  if (!raw) throw new Error(`${RUNTIME_CONFIG_ENV} is not set: the stack passes the gateway configuration in it`);
  return GatewayRuntimeConfigSchema.parse(JSON.parse(raw));
}
