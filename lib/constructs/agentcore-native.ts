import * as agentcore from 'aws-cdk-lib/aws-bedrockagentcore';
import { Construct, IConstruct } from 'constructs';
import { AgentRuntimeSpec, LambdaToolTargetSpec, ToolGatewaySpec, agentRuntimeRequest, lambdaTargetRequest, toolGatewayRequest } from './agentcore-spec';

/** What the Agents stack deploys on AgentCore, whichever way it is deployed. */
export interface AgentCoreResourcesProps {
  /** The runtime, given the tool gateway's MCP URL (undefined when there are no tools). @default none (agents.platform fargate: tools only) */
  readonly runtime?: (toolsMcpUrl: string | undefined) => AgentRuntimeSpec;
  /** A tool gateway, when there are tools. @default none */
  readonly gateway?: ToolGatewaySpec;
  readonly targets: readonly LambdaToolTargetSpec[];
  /** Created before the runtime (its role and policies: AgentCore checks the image pull at creation). @default none */
  readonly runtimeDependsOn?: readonly IConstruct[];
  /** Created before the gateway and its targets (the gateway role and its policy: targets are checked at creation). @default none */
  readonly gatewayDependsOn?: readonly IConstruct[];
}

/** The deployed resources' identifiers (CloudFormation tokens). */
export interface AgentCoreResources extends IConstruct {
  readonly runtimeArn?: string;
  readonly runtimeId?: string;
  readonly gatewayArn?: string;
  /** `https://<gatewayId>.gateway.bedrock-agentcore.<region>.amazonaws.com.cn/mcp`. */
  readonly gatewayUrl?: string;
}

/**
 * The runtime, tool gateway and targets as AWS::BedrockAgentCore::* resources (agents.platform
 * agentcore-native). The China registries did not have these types in June 2026: the TemplateFormat
 * check refuses this in a China region until lib/china/cfn-types lists them.
 */
export class AgentCoreNativeResources extends Construct implements AgentCoreResources {
  public readonly runtimeArn?: string;
  public readonly runtimeId?: string;
  public readonly gatewayArn?: string;
  public readonly gatewayUrl?: string;

  constructor(scope: Construct, id: string, props: AgentCoreResourcesProps) {
    super(scope, id);
    let gateway: agentcore.CfnGateway | undefined;
    if (props.gateway) {
      const g = toolGatewayRequest(props.gateway);
      gateway = new agentcore.CfnGateway(this, 'ToolGateway', { name: g.name, description: g.description, roleArn: g.roleArn, protocolType: g.protocolType, authorizerType: g.authorizerType });
      for (const dep of props.gatewayDependsOn ?? []) gateway.node.addDependency(dep);
      for (const target of props.targets) {
        const t = lambdaTargetRequest(target);
        const cfnTarget = new agentcore.CfnGatewayTarget(this, `Target-${target.name}`, {
          gatewayIdentifier: gateway.attrGatewayIdentifier,
          name: t.name,
          description: t.description,
          targetConfiguration: t.targetConfiguration,
          credentialProviderConfigurations: t.credentialProviderConfigurations,
        });
        for (const dep of props.gatewayDependsOn ?? []) cfnTarget.node.addDependency(dep);
      }
      this.gatewayArn = gateway.attrGatewayArn;
      this.gatewayUrl = gateway.attrGatewayUrl;
    }
    if (!props.runtime) return;
    const r = agentRuntimeRequest(props.runtime(this.gatewayUrl));
    const runtime = new agentcore.CfnRuntime(this, 'Runtime', {
      agentRuntimeName: r.agentRuntimeName,
      description: r.description,
      agentRuntimeArtifact: r.agentRuntimeArtifact,
      roleArn: r.roleArn,
      networkConfiguration: r.networkConfiguration,
      // The CloudFormation type takes the protocol as a plain string where the API nests it.
      protocolConfiguration: r.protocolConfiguration.serverProtocol,
      environmentVariables: r.environmentVariables,
      lifecycleConfiguration: r.lifecycleConfiguration,
    });
    for (const dep of props.runtimeDependsOn ?? []) runtime.node.addDependency(dep);
    this.runtimeArn = runtime.attrAgentRuntimeArn;
    this.runtimeId = runtime.attrAgentRuntimeId;
  }
}
