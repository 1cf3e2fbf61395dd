import { NagMessageLevel, NagRuleCompliance } from 'cdk-nag';
import { ChinaRule, findResourceByLogicalId, propertyTexts, rendered } from '../china-rule';

const CHINA_EC2_PRINCIPAL = 'ec2.amazonaws.com.cn';

/**
 * EKS managed node groups in China have been reported to require the China EC2 principal in the
 * node role trust policy (aws-cdk#24696, cdk-eks-blueprints#558), while CDK emits only the global form.
 */
export const EksNodeRoleTrustsChinaEc2: ChinaRule = {
  id: 'EksNodeRoleTrustsChinaEc2',
  level: NagMessageLevel.ERROR,
  info: 'The EKS node group role does not trust ec2.amazonaws.com.cn.',
  explanation:
    'Node groups in the AWS China regions have failed to join when the node role trusts only ec2.amazonaws.com. Trust both ec2.amazonaws.com and ec2.amazonaws.com.cn (ServicePrincipal.fromStaticServicePrincipleName).',
  check(node) {
    const { Type, Properties } = rendered(node);
    if (Type !== 'AWS::EKS::Nodegroup') return NagRuleCompliance.NOT_APPLICABLE;
    const nodeRole = Properties.NodeRole as { 'Fn::GetAtt'?: [string, string] } | string | undefined;
    const logicalId = typeof nodeRole === 'object' ? nodeRole['Fn::GetAtt']?.[0] : undefined;
    const role = logicalId ? findResourceByLogicalId(node, logicalId) : undefined;
    // An imported role cannot be inspected here: flag it so the owner confirms its trust policy.
    if (!role) return NagRuleCompliance.NON_COMPLIANT;
    const trust = rendered(role).Properties.AssumeRolePolicyDocument;
    return propertyTexts(role, trust).includes(CHINA_EC2_PRINCIPAL) ? NagRuleCompliance.COMPLIANT : NagRuleCompliance.NON_COMPLIANT;
  },
};
