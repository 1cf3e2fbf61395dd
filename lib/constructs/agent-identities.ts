import { ArnFormat, Stack } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import { Construct } from 'constructs';

/** Env var holding `{ "<agent name>": "<role ARN>" }`: the role each agent assumes to call the gateway (read by runtime/agents/agent-credentials.ts). */
export { AGENT_ROLES_ENV } from '../../runtime/agents/agent-credentials';

export interface GatewayChatApi {
  readonly restApiId: string;
  readonly stageName: string;
}

/** `arn:aws-cn:execute-api:<region>:<account>:<apiId>/<stage>/POST/v1/chat/completions`: the only call an agent may make on the gateway. */
export function chatCompletionsArn(stack: Stack, api: GatewayChatApi): string {
  return stack.formatArn({ service: 'execute-api', resource: api.restApiId, resourceName: `${api.stageName}/POST/v1/chat/completions`, arnFormat: ArnFormat.SLASH_RESOURCE_NAME });
}

export interface AgentIdentitiesProps {
  /** Every agent: supervisor and collaborators. */
  readonly agents: readonly string[];
  /** The role the agent container runs as (AgentCore execution role, Fargate task role): the only principal that may assume the agent roles. */
  readonly runtimeRole: iam.IRole;
  readonly gatewayApi: GatewayChatApi;
  readonly prefix: string;
}

/**
 * One IAM role per agent, each allowed only POST /v1/chat/completions on the kit's gateway. The
 * gateway meters and limits per caller, and normalises an assumed-role session to its role ARN: a
 * role per agent is what makes each agent its own caller there (session names or tags on one
 * shared role would all count as that role).
 */
export class AgentIdentities extends Construct {
  public readonly roles: Readonly<Record<string, iam.Role>>;

  constructor(scope: Construct, id: string, props: AgentIdentitiesProps) {
    super(scope, id);
    const invoke = chatCompletionsArn(Stack.of(this), props.gatewayApi);
    const roles: Record<string, iam.Role> = {};
    for (const agent of props.agents) {
      const role = new iam.Role(this, `Agent-${agent}`, {
        assumedBy: new iam.ArnPrincipal(props.runtimeRole.roleArn),
        description: `cn-llm-kit ${props.prefix} agent "${agent}": calls the gateway's chat completions as itself`,
      });
      role.addToPolicy(new iam.PolicyStatement({ actions: ['execute-api:Invoke'], resources: [invoke] }));
      roles[agent] = role;
    }
    this.roles = roles;
    props.runtimeRole.addToPrincipalPolicy(new iam.PolicyStatement({ actions: ['sts:AssumeRole'], resources: Object.values(roles).map((r) => r.roleArn) }));
  }

  /** The value of AGENT_ROLES_ENV. */
  public roleArnsJson(stack: Stack): string {
    return stack.toJsonString(Object.fromEntries(Object.entries(this.roles).map(([agent, role]) => [agent, role.roleArn])));
  }
}
