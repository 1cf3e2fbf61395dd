import * as fs from 'fs';
import * as path from 'path';
import { ChinaRegion, isChinaRegion } from './china';

/**
 * What the CloudFormation registry of each China region accepts, as far as the kit knows: a
 * template that names a type or a property the region's registry does not have fails the deploy
 * before anything is created, in a region where no synth-time tool would have said so.
 */

const TYPES_DIR = path.join(__dirname, 'cfn-types');
const typesByRegion = new Map<string, ReadonlySet<string>>();

/** The resource types the region's registry had in June 2026 (lib/china/cfn-types/<region>.txt). */
export function registryTypes(region: ChinaRegion): ReadonlySet<string> {
  let types = typesByRegion.get(region);
  if (!types) {
    const lines = fs.readFileSync(path.join(TYPES_DIR, `${region}.txt`), 'utf8').split('\n');
    types = new Set(lines.map((l) => l.trim()).filter((l) => l.length > 0));
    typesByRegion.set(region, types);
  }
  return types;
}

/** Types a template may name that no registry lists: CDK's metadata, and custom resources (served by the kit's own Lambdas). */
export function isRegistryIndependentType(type: string): boolean {
  return type === 'AWS::CDK::Metadata' || type === 'AWS::CloudFormation::CustomResource' || type.startsWith('Custom::');
}

/** The region's registry is known to lack the type (non-China regions: unknown, so never). */
export function missingFromRegistry(region: string, type: string): boolean {
  return isChinaRegion(region) && !isRegistryIndependentType(type) && !registryTypes(region).has(type);
}

/**
 * Properties the global registry has and the China registries did not (yet) have: a template
 * that sets one fails in China. Found by comparing, for every resource type the kit's templates
 * use, the properties those templates set with the cn-north-1 and cn-northwest-1 schemas that
 * cfn-lint (aws-cloudformation/cfn-lint) published on 2026-06-15; the global schemas gained
 * `Tags` on these two types after that, and CDK now emits them.
 */
export const CHINA_LAGGING_PROPERTIES: Readonly<Record<string, readonly string[]>> = {
  'AWS::ElasticLoadBalancingV2::Listener': ['Tags'],
  'AWS::ApplicationAutoScaling::ScalableTarget': ['Tags'],
};

/**
 * Property values the China schemas constrain more tightly than the global ones: CloudFormation
 * refuses a literal value that does not match before it creates anything. Found the same way as
 * CHINA_LAGGING_PROPERTIES (every property the kit's templates set, cn-north-1 and cn-northwest-1
 * schemas of 2026-06-15 against us-east-1's). Both China regions carry the same patterns.
 */
export const CHINA_PROPERTY_PATTERNS: Readonly<Record<string, Readonly<Record<string, { readonly pattern: RegExp; readonly rule: string }>>>> = {
  'AWS::ECR::Repository': {
    // The global pattern also takes "__" and runs of "-" between name components; China's does not.
    RepositoryName: {
      pattern: /^(?=.{2,256}$)((?:[a-z0-9]+(?:[._-][a-z0-9]+)*\/)*[a-z0-9]+(?:[._-][a-z0-9]+)*)$/,
      rule: 'lower-case letters and digits, components separated by "/", at most one ".", "_" or "-" between two characters',
    },
  },
};

/** The resource types whose `Tags` China may refuse: app-wide tags skip them unless `china.tagLaggingTypes` says otherwise. */
export const TAG_LAGGING_TYPES: readonly string[] = Object.entries(CHINA_LAGGING_PROPERTIES)
  .filter(([, properties]) => properties.includes('Tags'))
  .map(([type]) => type);

/** Configuration that avoids a type the China registries lack, where the kit offers another way to build the same thing. */
export const REGISTRY_TYPE_ALTERNATIVES: readonly { readonly typePrefix: string; readonly fix: string }[] = [
  {
    typePrefix: 'AWS::BedrockAgentCore::',
    fix: 'Set agents.platform to agentcore-api (the same runtime, gateway and targets through custom resources that call the AgentCore control-plane API) or fargate',
  },
];

/** How to avoid a type the region's registry lacks: the kit's alternative when it has one, then the registry file to update once AWS adds the type. */
export function missingTypeFix(region: string, type: string): string {
  const alternative = REGISTRY_TYPE_ALTERNATIVES.find((a) => type.startsWith(a.typePrefix));
  const update = `if AWS has added ${type} to ${region} since June 2026, add it to lib/china/cfn-types/${region}.txt with the source`;
  return alternative ? `${alternative.fix}; or, ${update}.` : `Use a construct that does not need ${type} in China, or, ${update}.`;
}
