import { NagMessageLevel, NagRuleCompliance } from 'cdk-nag';
import { GLOBAL_ACCOUNTLESS_ARN_SERVICES, GLOBAL_PARTITION } from '../../china/china';
import { findArns } from '../cfn-text';
import { ChinaRule, propertyTexts } from '../china-rule';

/** A China resource that names `arn:aws:` points at a partition its IAM cannot reach, unless it is the global account's own resource. */
export const NoGlobalPartitionArn: ChinaRule = {
  id: 'NoGlobalPartitionArn',
  level: NagMessageLevel.ERROR,
  info: 'The resource names a global-partition ARN (arn:aws:) that does not belong to the configured global account.',
  explanation:
    'China resources live in the aws-cn partition: their ARNs start with arn:aws-cn:. A literal arn:aws: (for example an AWS managed policy or a bucket ARN copied from a global sample) fails at deploy time or silently grants nothing. Only resources of the global account the gateway calls (Bedrock in us-east-1) may be named with arn:aws:.',
  check(node, context) {
    const bad = findArns(propertyTexts(node))
      .filter((a) => a.partition === GLOBAL_PARTITION)
      .filter((a) => !context.globalAccounts.includes(a.account))
      .filter((a) => !(a.account === '' && GLOBAL_ACCOUNTLESS_ARN_SERVICES.includes(a.service)))
      .map((a) => a.arn);
    return bad.length > 0 ? [...new Set(bad)] : NagRuleCompliance.COMPLIANT;
  },
};
