import { AGENT_ROLES_ENV, agentCredentials, agentRolesFromEnv, regionalStsEndpoint } from '../../../runtime/agents/agent-credentials';

describe('agent credentials (CNLLM_AGENT_ROLE_ARNS)', () => {
  test('the STS endpoint is the China region\'s own (there is no global STS in aws-cn)', () => {
    expect(regionalStsEndpoint('cn-northwest-1')).toBe('https://sts.cn-northwest-1.amazonaws.com.cn');
    expect(regionalStsEndpoint('cn-north-1')).toBe('https://sts.cn-north-1.amazonaws.com.cn');
  });

  test('absent: agents sign as the runtime (local runs); malformed: refused naming the variable', () => {
    expect(agentRolesFromEnv({})).toBeUndefined();
    expect(agentRolesFromEnv({ [AGENT_ROLES_ENV]: '{"analyst":"arn:aws-cn:iam::111122223333:role/cnllm-agent-analyst"}' })).toEqual({ analyst: 'arn:aws-cn:iam::111122223333:role/cnllm-agent-analyst' });
    expect(() => agentRolesFromEnv({ [AGENT_ROLES_ENV]: '{oops' })).toThrow(/CNLLM_AGENT_ROLE_ARNS is not valid JSON/);
    expect(() => agentRolesFromEnv({ [AGENT_ROLES_ENV]: '{"analyst":"analyst-role"}' })).toThrow('CNLLM_AGENT_ROLE_ARNS.analyst must be an IAM role ARN, got "analyst-role"');
  });

  test('an agent without a role is refused, never signed as the runtime', () => {
    const of = agentCredentials({ roles: { analyst: 'arn:aws-cn:iam::111122223333:role/a' }, region: 'cn-northwest-1' });
    expect(typeof of('analyst')).toBe('function');
    expect(of('analyst')).toBe(of('analyst'));
    expect(() => of('writer')).toThrow('CNLLM_AGENT_ROLE_ARNS has no role for agent "writer" (it has analyst): redeploy the Agents stack with this agent');
  });
});
