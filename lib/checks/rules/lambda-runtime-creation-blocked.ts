import { NagMessageLevel, NagRuleCompliance } from 'cdk-nag';
import { lambdaRuntimeStage } from '../../china/china';
import { ChinaRule, rendered } from '../china-rule';

export const LambdaRuntimeCreationBlocked: ChinaRule = {
  id: 'LambdaRuntimeCreationBlocked',
  level: NagMessageLevel.ERROR,
  info: 'The Lambda function uses a runtime on which Lambda no longer creates functions.',
  explanation:
    'From a deprecated runtime\'s creation-block date (LAMBDA_RUNTIME_LIFECYCLE in lib/china/china.ts; cfn-lint E2531) CloudFormation fails to create a function on it, so a first deploy of the stack fails. Set lambda.runtime or lambda.pythonRuntime to a supported runtime confirmed in China.',
  check(node, context) {
    const { Type, Properties } = rendered(node);
    if (Type !== 'AWS::Lambda::Function' || typeof Properties.Runtime !== 'string') return NagRuleCompliance.NOT_APPLICABLE;
    return lambdaRuntimeStage(Properties.Runtime, context.today) === 'create-blocked' ? NagRuleCompliance.NON_COMPLIANT : NagRuleCompliance.COMPLIANT;
  },
};
