/**
 * What the kit deploys on AgentCore, in one shape for both ways of deploying it: the CloudFormation
 * types (agents.platform agentcore-native) and the control-plane API behind custom resources
 * (agentcore-api) take the same runtime, gateway and targets, so the two cannot drift apart.
 * The shapes follow the control-plane API (CreateAgentRuntime, CreateGateway, CreateGatewayTarget).
 */

/** A tool as the contract's TOOL_SCHEMAS export describes it (runtime/agents/tools/*.ts). */
export interface ToolSchema {
  readonly name: string;
  readonly description: string;
  readonly inputSchema: JsonSchema;
}

/** The JSON Schema subset AgentCore Gateway tool definitions accept (SchemaDefinition). */
export interface JsonSchema {
  readonly type: string;
  readonly description?: string;
  readonly properties?: Record<string, JsonSchema>;
  readonly items?: JsonSchema;
  readonly required?: string[];
}

export interface AgentRuntimeSpec {
  /** `[a-zA-Z][a-zA-Z0-9_]{0,47}` (CreateAgentRuntime). */
  readonly name: string;
  readonly description: string;
  readonly containerUri: string;
  readonly roleArn: string;
  readonly subnetIds: string[];
  readonly securityGroupIds: string[];
  readonly environment: Record<string, string>;
  readonly idleSessionTimeoutSeconds: number;
  readonly maxLifetimeSeconds: number;
}

export interface ToolGatewaySpec {
  /** `([0-9a-zA-Z][-]?){1,100}` (CreateGateway). */
  readonly name: string;
  readonly description: string;
  readonly roleArn: string;
}

export interface LambdaToolTargetSpec {
  /** The `<target>` of `<target>___<tool>`, the tool names agents see. */
  readonly name: string;
  readonly description: string;
  readonly lambdaArn: string;
  readonly tools: readonly ToolSchema[];
}

/** Gateway names take no "_" (the runtime's name is names(config).agentRuntime). */
export const gatewayName = (prefix: string) => `${prefix}-agent-tools`;

/** Keeps only the JSON Schema keywords the Gateway's SchemaDefinition knows; anything else would fail the target's creation. */
export function gatewaySchema(schema: JsonSchema): JsonSchema {
  return {
    type: schema.type,
    ...(schema.description !== undefined && { description: schema.description }),
    ...(schema.properties && { properties: Object.fromEntries(Object.entries(schema.properties).map(([k, v]) => [k, gatewaySchema(v)])) }),
    ...(schema.items && { items: gatewaySchema(schema.items) }),
    ...(schema.required && schema.required.length > 0 && { required: [...schema.required] }),
  };
}

/** CreateAgentRuntime's request body (without clientToken): a container in the VPC, reached over HTTP (the contract's /invocations, /ping). */
export function agentRuntimeRequest(spec: AgentRuntimeSpec) {
  return {
    agentRuntimeName: spec.name,
    description: spec.description,
    agentRuntimeArtifact: { containerConfiguration: { containerUri: spec.containerUri } },
    roleArn: spec.roleArn,
    networkConfiguration: { networkMode: 'VPC', networkModeConfig: { subnets: spec.subnetIds, securityGroups: spec.securityGroupIds } },
    protocolConfiguration: { serverProtocol: 'HTTP' },
    environmentVariables: spec.environment,
    lifecycleConfiguration: { idleRuntimeSessionTimeout: spec.idleSessionTimeoutSeconds, maxLifetime: spec.maxLifetimeSeconds },
  };
}

/** CreateGateway's request body: MCP with IAM (SigV4) inbound authorization; Cognito/JWT inbound auth is not offered in China. */
export function toolGatewayRequest(spec: ToolGatewaySpec) {
  return {
    name: spec.name,
    description: spec.description,
    roleArn: spec.roleArn,
    protocolType: 'MCP',
    authorizerType: 'AWS_IAM',
  };
}

/** CreateGatewayTarget's request body (without the gateway id): a Lambda the gateway calls with its own role. */
export function lambdaTargetRequest(spec: LambdaToolTargetSpec) {
  return {
    name: spec.name,
    description: spec.description,
    targetConfiguration: { mcp: { lambda: { lambdaArn: spec.lambdaArn, toolSchema: { inlinePayload: spec.tools.map((t) => ({ name: t.name, description: t.description, inputSchema: gatewaySchema(t.inputSchema) })) } } } },
    credentialProviderConfigurations: [{ credentialProviderType: 'GATEWAY_IAM_ROLE' }],
  };
}
