import { NagMessageLevel, NagRuleCompliance } from 'cdk-nag';
import { ChinaRule, rendered } from '../china-rule';

/**
 * In China, API Gateway serves unauthenticated requests only for accounts with an ICP licence, and
 * "unauthenticated" covers no authorizer, API keys and Lambda authorizers alike. IAM works without one.
 */
export const IamAuthorizedApi: ChinaRule = {
  id: 'IamAuthorizedApi',
  level: NagMessageLevel.ERROR,
  info: 'The API method or route is not IAM (SigV4) authorized, so it needs an ICP licence in China.',
  explanation:
    'API Gateway in the AWS China regions processes requests that are not IAM-authorized (no authorizer, API key only, Lambda authorizer) only for accounts linked to an ICP licence; without one, callers get 403. Use AWS_IAM authorization, or acknowledge this finding naming your ICP licence.',
  check(node) {
    const { Type, Properties } = rendered(node);
    if (Type !== 'AWS::ApiGateway::Method' && Type !== 'AWS::ApiGatewayV2::Route') return NagRuleCompliance.NOT_APPLICABLE;
    return Properties.AuthorizationType === 'AWS_IAM' ? NagRuleCompliance.COMPLIANT : NagRuleCompliance.NON_COMPLIANT;
  },
};
