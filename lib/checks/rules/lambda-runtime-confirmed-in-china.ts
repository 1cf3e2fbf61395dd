import { NagMessageLevel, NagRuleCompliance } from 'cdk-nag';
import { CHINA_CONFIRMED_NODEJS_RUNTIMES } from '../../china/china';
import { ChinaRule, rendered } from '../china-rule';

export const LambdaRuntimeConfirmedInChina: ChinaRule = {
  id: 'LambdaRuntimeConfirmedInChina',
  level: NagMessageLevel.WARN,
  info: 'The Lambda function uses a Node.js runtime that is not confirmed in the AWS China regions.',
  explanation: `AWS says global Lambda runtime release dates do not apply to China; the confirmed Node.js runtimes are ${CHINA_CONFIRMED_NODEJS_RUNTIMES.join(', ')}. A newer one can fail the deploy. Set lambda.runtime to a confirmed runtime, or acknowledge once AWS China lists it.`,
  check(node) {
    const { Type, Properties } = rendered(node);
    if (Type !== 'AWS::Lambda::Function' || typeof Properties.Runtime !== 'string' || !Properties.Runtime.startsWith('nodejs')) {
      return NagRuleCompliance.NOT_APPLICABLE;
    }
    return CHINA_CONFIRMED_NODEJS_RUNTIMES.includes(Properties.Runtime) ? NagRuleCompliance.COMPLIANT : NagRuleCompliance.NON_COMPLIANT;
  },
};
