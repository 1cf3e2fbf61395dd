import { invocationId } from '../bedrock/catalog';
import { KitConfig } from '../config/schema';
import type { SelfHostedRoute } from '../config/vllm-routes';
import type { z } from 'zod';
import type { GatewayRuntimeConfigSchema } from '../../runtime/gateway/runtime-config';

type RuntimeConfigInput = z.input<typeof GatewayRuntimeConfigSchema>;

/** A self-hosted vLLM service the gateway routes to (its load balancer inside the VPC). */
export interface VllmRoute extends Pick<SelfHostedRoute, 'servedName' | 'alias' | 'routeName'> {
  readonly baseUrl: string;
  readonly apiKeySecretArn: string;
  /** The private CA (PEM) that issued the load balancer's certificate, when Node's public roots do not cover it. */
  readonly caCertificatePem?: string;
}

/**
 * The gateway's run-time settings derived from the kit config: one derivation for the Lambda (via
 * its environment) and the local runner, so both serve the same allow-list the same way.
 */
export function gatewayRuntimeSettings(
  config: KitConfig,
  opts: { credentialSecretId?: string; upstreamTimeoutSeconds: number; vllmRoutes?: readonly VllmRoute[]; providerSecretIds?: Readonly<Record<string, string>> },
): RuntimeConfigInput {
  const vllm = opts.vllmRoutes ?? [];
  const providers = config.routing.providers;
  return {
    bedrockRegion: config.global.region,
    secretRegion: config.china.region,
    ...(opts.credentialSecretId && { credentialSecretId: opts.credentialSecretId }),
    models: [
      ...config.bedrock.models.map((m) => ({ alias: m.alias, modelId: invocationId(m), created: 0, route: 'bedrock' })),
      ...vllm.map((v) => ({ alias: v.alias, modelId: v.servedName, created: 0, route: v.routeName })),
      ...providers.flatMap((p) => p.models.map((m) => ({ alias: m.alias, modelId: m.model, created: 0, route: p.name }))),
    ],
    upstreams: [
      ...vllm.map((v) => ({
        name: v.routeName,
        kind: 'vllm' as const,
        baseUrl: v.baseUrl,
        apiKeySecretId: v.apiKeySecretArn,
        crossBorder: false,
        timeoutMs: opts.upstreamTimeoutSeconds * 1000,
        maxAttempts: 2,
        ...(v.caCertificatePem && { caCertificates: [v.caCertificatePem] }),
      })),
      ...providers.map((p) => ({
        name: p.name,
        kind: 'provider' as const,
        baseUrl: p.baseUrl,
        ...(opts.providerSecretIds?.[p.name] && { apiKeySecretId: opts.providerSecretIds[p.name] }),
        crossBorder: p.crossBorder,
        timeoutMs: Math.min(p.timeoutSeconds, opts.upstreamTimeoutSeconds) * 1000,
        maxAttempts: p.maxAttempts,
      })),
    ],
    fallbacks: config.routing.fallbacks,
    residency: config.routing.residency,
    ...(config.bedrock.guardrail && { guardrail: config.bedrock.guardrail }),
    logContent: config.gateway.logContent,
    retry: { maxAttempts: config.gateway.maxAttempts, baseDelayMs: 200, maxDelayMs: 4000 },
    timeouts: { connectMs: 3000, requestMs: opts.upstreamTimeoutSeconds * 1000 },
    maxBodyBytes: 6 * 1024 * 1024,
  };
}
