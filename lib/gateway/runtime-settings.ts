import { invocationId } from '../bedrock/catalog';
import { names } from '../config/names';
import { KitConfig } from '../config/schema';
import { routeRegistryEnabled } from '../config/vllm-routes';
import type { z } from 'zod';
import type { GatewayRuntimeConfigSchema } from '../../runtime/gateway/runtime-config';
import { quotaRuntimeSettings } from './quota-settings';

type RuntimeConfigInput = z.input<typeof GatewayRuntimeConfigSchema>;

/**
 * The gateway's run-time settings derived from the kit config: one derivation for the Lambda (via
 * its environment) and the local runner, so both serve the same allow-list the same way.
 */
export function gatewayRuntimeSettings(
  config: KitConfig,
  opts: {
    credentialSecretId?: string;
    upstreamTimeoutSeconds: number;
    /** API Gateway's integration timeout in front of this host (the Lambda); unset for hosts without one (the streaming door, the local runner). */
    integrationTimeoutSeconds?: number;
    providerSecretIds?: Readonly<Record<string, string>>;
    /** The kit's private CA (PEM), trusted for self-hosted routes: their load balancers' certificates come from it. */
    internalCaCertificatePem?: string;
    /** The shared quota counter table (the stack's); unset: the host brings its own store (local runners). */
    quotaTableName?: string;
  },
): RuntimeConfigInput {
  const providers = config.routing.providers;
  const trustedCas = [...(opts.internalCaCertificatePem ? [opts.internalCaCertificatePem] : []), ...config.internalTls.trustedCaCertificates];
  const quotas = quotaRuntimeSettings(config, opts.quotaTableName ? { tableName: opts.quotaTableName, region: config.china.region } : undefined);
  return {
    bedrockRegion: config.global.region,
    secretRegion: config.china.region,
    ...(opts.credentialSecretId && { credentialSecretId: opts.credentialSecretId }),
    models: [
      ...config.bedrock.models.map((m) => ({
        alias: m.alias,
        modelId: invocationId(m),
        created: 0,
        route: 'bedrock',
        reasoning: m.reasoning,
        structuredOutput: m.structuredOutput,
        promptCaching: config.bedrock.promptCaching.includes(m.alias) ? (m.cacheTools ? ('system-and-tools' as const) : ('system' as const)) : ('off' as const),
        kind: m.kind,
        ...(m.region && { region: m.region }),
      })),
      ...providers.flatMap((p) => p.models.map((m) => ({ alias: m.alias, modelId: m.model, created: 0, route: p.name, kind: m.kind, ...(m.maxInputsPerCall && { maxInputsPerCall: m.maxInputsPerCall }) }))),
    ],
    upstreams: [
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
    // Self-hosted routes are read at run time, not fixed here: the vLLM stacks may deploy before or after the gateway.
    ...(routeRegistryEnabled(config) && {
      routeRegistry: {
        parameterPath: names(config).routeParameterPath,
        region: config.china.region,
        refreshSeconds: config.routing.registryRefreshSeconds,
        timeoutMs: opts.upstreamTimeoutSeconds * 1000,
        maxAttempts: 2,
        ...(trustedCas.length > 0 && { caCertificates: trustedCas }),
      },
    }),
    fallbacks: config.routing.fallbacks,
    residency: config.routing.residency,
    ...(config.bedrock.guardrail && { guardrail: config.bedrock.guardrail }),
    logContent: config.gateway.logContent,
    embeddingConcurrency: config.gateway.embeddingConcurrency,
    retry: { maxAttempts: config.gateway.maxAttempts, baseDelayMs: 200, maxDelayMs: 4000 },
    timeouts: { connectMs: 3000, requestMs: opts.upstreamTimeoutSeconds * 1000 },
    maxBodyBytes: 6 * 1024 * 1024,
    ...(quotas && { quotas }),
    ...(opts.integrationTimeoutSeconds !== undefined && { integrationTimeoutMs: opts.integrationTimeoutSeconds * 1000 }),
  };
}
