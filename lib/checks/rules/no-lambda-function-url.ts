import { NagMessageLevel, NagRuleCompliance } from 'cdk-nag';
import { ChinaRule, rendered } from '../china-rule';

export const NoLambdaFunctionUrl: ChinaRule = {
  id: 'NoLambdaFunctionUrl',
  level: NagMessageLevel.ERROR,
  info: 'The stack defines a Lambda function URL.',
  explanation:
    'Lambda function URLs are not available in the AWS China regions; the deploy fails. Put the function behind a REGIONAL API Gateway (IAM auth) or an internal load balancer.',
  check(node) {
    return rendered(node).Type === 'AWS::Lambda::Url' ? NagRuleCompliance.NON_COMPLIANT : NagRuleCompliance.NOT_APPLICABLE;
  },
};
