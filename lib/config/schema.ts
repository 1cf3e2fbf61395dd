import { z } from 'zod';
import { CHINA_REGIONS } from '../china/china';
import { checkAcrossSections } from './cross-checks';
import { agentsSection } from './schema/agents';
import { adapterFallbacks, resolveDistill } from './distill-defaults';
import { chinaSection, globalSection, stacksSection } from './schema/account';
import { bedrockSection, resolveBedrockModel } from './schema/bedrock';
import { distillSection } from './schema/distill';
import { gatewaySection, routingSection } from './schema/gateway';
import { effectiveTlsMode, internalTlsSection, networkSection } from './schema/network';
import { alarmsSection, lambdaSection } from './schema/operations';
import { ledgerSection } from './schema/ledger';
import { quotasSection } from './schema/quotas';
import { gpuSection, imagesSection, modelStoreSection, modelsSection, stagingSection, vllmEc2Section, vllmEksSection } from './schema/self-hosted';

export { INTERFACE_ENDPOINT_NAMES, privateDnsLabel } from './schema/network';
export type { InterfaceEndpointName } from './schema/network';
export type { BedrockModel } from './schema/bedrock';

/**
 * The kit's configuration: types, defaults and validation in one schema, composed of one section
 * per concern (lib/config/schema/*). Every field has a default, so the app synthesizes with no
 * input at all (the embedded demo config). Error messages say what the value must be; the loader
 * adds the field path and the bad value.
 */
const sections = z
  .object({
    prefix: z
      .string()
      // No "--": the prefix starts every ECR repository name, whose China pattern allows one separator between characters.
      .regex(/^[a-z](?:[a-z0-9]|-(?!-)){1,18}[a-z0-9]$/, { error: 'must be 3-20 lower-case letters, digits or single "-" (no "--": ECR repository names in China refuse it), starting with a letter' })
      .default('cnllm'),
    tags: z.record(z.string().min(1).max(128), z.string().max(256)).default({}),
    china: chinaSection,
    global: globalSection,
    stacks: stacksSection,
    network: networkSection,
    modelStore: modelStoreSection,
    models: modelsSection,
    bedrock: bedrockSection,
    gateway: gatewaySection,
    routing: routingSection,
    lambda: lambdaSection,
    images: imagesSection,
    vllmEks: vllmEksSection,
    staging: stagingSection,
    vllmEc2: vllmEc2Section,
    internalTls: internalTlsSection,
    alarms: alarmsSection,
    gpu: gpuSection,
    agents: agentsSection,
    ledger: ledgerSection,
    distill: distillSection,
    quotas: quotasSection,
  })
  .strict();

/** The sections as validated, before the values derived from several of them are filled in. */
export type KitSections = z.output<typeof sections>;

export const KitConfigSchema = sections
  .superRefine(checkAcrossSections, { when: () => true })
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
      distill: resolveDistill(c),
      routing: { ...c.routing, fallbacks: { ...adapterFallbacks(c), ...c.routing.fallbacks } },
    };
  });

/** The validated configuration the stacks receive. */
export type KitConfig = z.output<typeof KitConfigSchema>;
