import { z } from 'zod';

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
    })
    .prefault({}),
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
