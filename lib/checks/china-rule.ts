import { CfnCondition, CfnResource, Stack } from 'aws-cdk-lib';
import { NagMessageLevel, NagRuleResult } from 'cdk-nag';
import { CHINA_PARTITION, CHINA_URL_SUFFIX } from '../china/china';
import { CfnTextEnv, cfnTexts, pseudoValues } from './cfn-text';

/** What a China rule may know beyond the resource itself. */
export interface ChinaRuleContext {
  /** Accounts in the global partition whose ARNs a China stack may name (the Bedrock side). */
  readonly globalAccounts: readonly string[];
  /** The day (YYYY-MM-DD, UTC) date-bound rules judge by, e.g. runtime deprecation. @default the day of the synth */
  readonly today: string;
}

/** One rule of the ChinaRegion pack; each lives in its own file under rules/. */
export interface ChinaRule {
  /** Rule id suffix: findings read `ChinaRegion-<id>`. */
  readonly id: string;
  readonly level: NagMessageLevel;
  /** Why the rule fired (one sentence). */
  readonly info: string;
  /** Why the rule exists: the China constraint behind it. */
  readonly explanation: string;
  check(node: CfnResource, context: ChinaRuleContext): NagRuleResult;
}

/** The resource as CloudFormation will receive it (property overrides included), with tokens resolved. */
export function rendered(node: CfnResource): { Type: string; Properties: Record<string, unknown> } {
  const stack = Stack.of(node);
  const cfn = stack.resolve((node as unknown as { _toCloudFormation(): { Resources: Record<string, any> } })._toCloudFormation());
  const [resource] = Object.values(cfn.Resources) as { Type: string; Properties?: Record<string, unknown> }[];
  return { Type: resource.Type, Properties: resource.Properties ?? {} };
}

const envCache = new WeakMap<Stack, CfnTextEnv>();

/** How intrinsics render in the resource's stack: China pseudo parameters and the stack's conditions. */
export function chinaTextEnv(node: CfnResource): CfnTextEnv {
  const stack = Stack.of(node);
  let env = envCache.get(stack);
  if (!env) {
    const conditions: Record<string, unknown> = {};
    for (const c of stack.node.findAll()) {
      if (c instanceof CfnCondition) conditions[stack.resolve(c.logicalId)] = stack.resolve(c.expression);
    }
    env = { pseudo: pseudoValues(CHINA_PARTITION, stack.region, stack.account, CHINA_URL_SUFFIX), conditions };
    envCache.set(stack, env);
  }
  return env;
}

/** Every string in the resource's properties, as it will read at deploy time. */
export function propertyTexts(node: CfnResource, value: unknown = rendered(node).Properties): string[] {
  return cfnTexts(value, chinaTextEnv(node));
}

/** Finds the CfnResource with a logical id in the node's stack. */
export function findResourceByLogicalId(node: CfnResource, logicalId: string): CfnResource | undefined {
  const stack = Stack.of(node);
  return stack.node.findAll().find((c): c is CfnResource => CfnResource.isCfnResource(c) && stack.resolve(c.logicalId) === logicalId);
}
