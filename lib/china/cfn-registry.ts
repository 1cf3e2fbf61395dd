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

/** The resource types whose `Tags` China may refuse: app-wide tags skip them unless `china.tagLaggingTypes` says otherwise. */
export const TAG_LAGGING_TYPES: readonly string[] = Object.entries(CHINA_LAGGING_PROPERTIES)
  .filter(([, properties]) => properties.includes('Tags'))
  .map(([type]) => type);
