import { CfnResource, Stack } from 'aws-cdk-lib';
import { NagPack, NagPackProps } from 'cdk-nag';
import { IConstruct } from 'constructs';
import { isChinaRegion } from '../china/china';
import { ChinaRule, ChinaRuleContext } from './china-rule';
import { EksNodeRoleTrustsChinaEc2 } from './rules/eks-node-role-trusts-china-ec2';
import { IamAuthorizedApi } from './rules/iam-authorized-api';
import { LambdaRuntimeConfirmedInChina } from './rules/lambda-runtime-confirmed-in-china';
import { LambdaRuntimeCreationBlocked } from './rules/lambda-runtime-creation-blocked';
import { LambdaRuntimeDeprecated } from './rules/lambda-runtime-deprecated';
import { NoCognitoAuthorizer } from './rules/no-cognito-authorizer';
import { NoEdgeEndpoint } from './rules/no-edge-endpoint';
import { NoGlobalPartitionArn } from './rules/no-global-partition-arn';
import { NoLambdaFunctionUrl } from './rules/no-lambda-function-url';
import { NoUnreachableSources } from './rules/no-unreachable-sources';
import { PrivateEcrImagesOnly } from './rules/private-ecr-images-only';

export const CHINA_RULES: readonly ChinaRule[] = [
  NoEdgeEndpoint,
  NoGlobalPartitionArn,
  NoLambdaFunctionUrl,
  NoCognitoAuthorizer,
  PrivateEcrImagesOnly,
  NoUnreachableSources,
  IamAuthorizedApi,
  EksNodeRoleTrustsChinaEc2,
  LambdaRuntimeConfirmedInChina,
  LambdaRuntimeDeprecated,
  LambdaRuntimeCreationBlocked,
];

export interface ChinaRegionChecksProps extends NagPackProps, Partial<ChinaRuleContext> {}

/**
 * Rules for what deploys and runs in the AWS China regions, which no other pack knows. Applies to
 * every resource whose stack's region is a China region; other stacks (the global Bedrock side) are skipped.
 */
export class ChinaRegionChecks extends NagPack {
  public readonly name = 'ChinaRegionChecks';
  private readonly context: ChinaRuleContext;

  constructor(scope?: IConstruct, props: ChinaRegionChecksProps = {}) {
    super(scope, props);
    this.packName = 'ChinaRegion';
    this.context = { globalAccounts: props.globalAccounts ?? [], today: props.today ?? new Date().toISOString().slice(0, 10) };
  }

  protected checkResource(node: CfnResource): void {
    if (!isChinaRegion(Stack.of(node).region)) return;
    for (const rule of CHINA_RULES) {
      this.applyRule({
        ruleSuffixOverride: rule.id,
        info: rule.info,
        explanation: rule.explanation,
        level: rule.level,
        node,
        rule: (n: CfnResource) => rule.check(n, this.context),
      });
    }
  }
}
