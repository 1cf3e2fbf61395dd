import { NagMessageLevel, NagRuleCompliance } from 'cdk-nag';
import { ChinaRule, rendered } from '../china-rule';

/** API Gateway defaults to EDGE, which does not exist in China: deploy fails with "EDGE is not supported in this region". */
export const NoEdgeEndpoint: ChinaRule = {
  id: 'NoEdgeEndpoint',
  level: NagMessageLevel.ERROR,
  info: 'The API Gateway REST API or custom domain uses an EDGE endpoint (the default when none is set).',
  explanation:
    'EDGE-optimized endpoints do not exist in the AWS China regions; CloudFormation fails with "Endpoint Configuration type EDGE is not supported in this region". Set endpointTypes to REGIONAL or PRIVATE.',
  check(node) {
    const { Type, Properties } = rendered(node);
    if (Type !== 'AWS::ApiGateway::RestApi' && Type !== 'AWS::ApiGateway::DomainName') return NagRuleCompliance.NOT_APPLICABLE;
    const types = (Properties.EndpointConfiguration as { Types?: string[] } | undefined)?.Types;
    if (!types || types.length === 0 || types.includes('EDGE')) return NagRuleCompliance.NON_COMPLIANT;
    return NagRuleCompliance.COMPLIANT;
  },
};
