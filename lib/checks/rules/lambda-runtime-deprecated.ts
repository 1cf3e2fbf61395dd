import { NagMessageLevel, NagRuleCompliance } from 'cdk-nag';
import { lambdaRuntimeStage } from '../../china/china';
import { ChinaRule, rendered } from '../china-rule';

export const LambdaRuntimeDeprecated: ChinaRule = {
  id: 'LambdaRuntimeDeprecated',
  level: NagMessageLevel.WARN,
  info: 'The Lambda function uses a runtime past its deprecation date (no more security patches).',
  explanation:
    'Lambda stops patching a runtime on its deprecation date and, a few months later, CloudFormation stops creating functions on it (LAMBDA_RUNTIME_LIFECYCLE in lib/china/china.ts; cfn-lint W2531). Move lambda.runtime or lambda.pythonRuntime to a supported runtime confirmed in China before creation is blocked.',
  check(node, context) {
    const { Type, Properties } = rendered(node);
    if (Type !== 'AWS::Lambda::Function' || typeof Properties.Runtime !== 'string') return NagRuleCompliance.NOT_APPLICABLE;
    return lambdaRuntimeStage(Properties.Runtime, context.today) === 'deprecated' ? NagRuleCompliance.NON_COMPLIANT : NagRuleCompliance.COMPLIANT;
  },
};
