import { NagMessageLevel, NagRuleCompliance } from 'cdk-nag';
import { ChinaRule, propertyTexts, rendered } from '../china-rule';

export const NoCognitoAuthorizer: ChinaRule = {
  id: 'NoCognitoAuthorizer',
  level: NagMessageLevel.ERROR,
  info: 'The API uses an Amazon Cognito user pool authorizer.',
  explanation:
    'API Gateway Cognito authorizers are not supported in the AWS China regions. Use IAM (SigV4) authorization, which also works without an ICP licence.',
  check(node) {
    const { Type, Properties } = rendered(node);
    switch (Type) {
      case 'AWS::ApiGateway::Authorizer':
        return Properties.Type === 'COGNITO_USER_POOLS' ? NagRuleCompliance.NON_COMPLIANT : NagRuleCompliance.COMPLIANT;
      case 'AWS::ApiGateway::Method':
        return Properties.AuthorizationType === 'COGNITO_USER_POOLS' ? NagRuleCompliance.NON_COMPLIANT : NagRuleCompliance.COMPLIANT;
      case 'AWS::ApiGatewayV2::Authorizer':
        return propertyTexts(node, Properties.JwtConfiguration).some((t) => t.includes('cognito-idp'))
          ? NagRuleCompliance.NON_COMPLIANT
          : NagRuleCompliance.COMPLIANT;
      default:
        return NagRuleCompliance.NOT_APPLICABLE;
    }
  },
};
