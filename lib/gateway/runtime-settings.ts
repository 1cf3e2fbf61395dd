import { invocationId } from '../bedrock/catalog';
import { KitConfig } from '../config/schema';
import type { z } from 'zod';
import type { GatewayRuntimeConfigSchema } from '../../runtime/gateway/runtime-config';

type RuntimeConfigInput = z.input<typeof GatewayRuntimeConfigSchema>;

/**
 * The gateway's run-time settings derived from the kit config: one derivation for the Lambda (via
 * its environment) and the local runner, so both serve the same allow-list the same way.
 */
export function gatewayRuntimeSettings(config: KitConfig, opts: { credentialSecretId?: string; upstreamTimeoutSeconds: number }): RuntimeConfigInput {
  return {
    bedrockRegion: config.global.region,
    ...(opts.credentialSecretId && { credentialSecretId: opts.credentialSecretId, secretRegion: config.china.region }),
    models: config.bedrock.models.map((m) => ({ alias: m.alias, modelId: invocationId(m), created: 0, route: 'bedrock' })),
    ...(config.bedrock.guardrail && { guardrail: config.bedrock.guardrail }),
    logContent: config.gateway.logContent,
    retry: { maxAttempts: config.gateway.maxAttempts, baseDelayMs: 200, maxDelayMs: 4000 },
    timeouts: { connectMs: 3000, requestMs: opts.upstreamTimeoutSeconds * 1000 },
    maxBodyBytes: 6 * 1024 * 1024,
  };
}
