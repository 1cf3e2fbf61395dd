import { ArnFormat, Stack } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import { CHINA_URL_SUFFIX } from './china';

/**
 * Amazon Bedrock AgentCore in the China regions, as the kit relies on it. Source: "Amazon Bedrock
 * AgentCore in Amazon Web Services China" (docs.amazonaws.cn, getting-started guide) and the
 * AWS SDK for JavaScript v3 endpoint rules (client-bedrock-agentcore[-control] 3.114x resolve
 * cn-north-1/cn-northwest-1 to the hosts below). Anything marked unverified stays overridable.
 */

/** IAM's name for the service: roles AgentCore assumes trust it. CDK renders every service principal in the global form, which IAM in aws-cn accepts. */
export const AGENTCORE_SERVICE_PRINCIPAL = 'bedrock-agentcore.amazonaws.com';
/** SigV4 signing name of the control plane, the data plane (InvokeAgentRuntime) and the Gateway's MCP endpoint. */
export const AGENTCORE_SIGNING_NAME = 'bedrock-agentcore';

/** `bedrock-agentcore-control.<region>.amazonaws.com.cn` (CreateAgentRuntime, CreateGateway...). */
export const agentCoreControlEndpoint = (region: string) => `https://bedrock-agentcore-control.${region}.${CHINA_URL_SUFFIX}`;
/** `bedrock-agentcore.<region>.amazonaws.com.cn` (InvokeAgentRuntime). */
export const agentCoreDataEndpoint = (region: string) => `https://bedrock-agentcore.${region}.${CHINA_URL_SUFFIX}`;

/** What the China regions offer, and what they do not (the README's table is built from the same facts). */
export const AGENTCORE_IN_CHINA = {
  offered: ['Runtime (microVM capacity only)', 'Code Interpreter', 'Browser', 'Identity', 'Gateway', 'Observability'],
  notOffered: ['Memory', 'Policy', 'Harness', 'Payments', 'Knowledge Bases', 'Evaluations', 'Optimizations', 'Registry', 'Cognito inbound authorization', 'private IdPs', 'GitHub/Google/... OAuth providers', 'Gateway semantic search', 'managed EC2 capacity', 'S3 Files file systems'],
  /** AgentCore Runtime runs linux/arm64 images only (AgentCore developer guide, "Get started without the CLI"). */
  imageArchitecture: 'arm64',
} as const;

/** ARN of AgentCore resources of this stack's account and region (`arn:aws-cn:bedrock-agentcore:<region>:<account>:<type>/<name>`). */
export function agentCoreArn(stack: Stack, resource: 'runtime' | 'gateway' | 'workload-identity-directory', resourceName: string): string {
  return stack.formatArn({ service: 'bedrock-agentcore', resource, resourceName, arnFormat: ArnFormat.SLASH_RESOURCE_NAME });
}

/**
 * A role only AgentCore may assume, and only for resources of this account and region: the
 * confused-deputy conditions of the AgentCore developer guide (runtime and gateway execution roles).
 */
export function agentCoreServiceRole(stack: Stack, scope: import('constructs').Construct, id: string, description: string): iam.Role {
  return new iam.Role(scope, id, {
    description,
    assumedBy: new iam.ServicePrincipal(AGENTCORE_SERVICE_PRINCIPAL, {
      conditions: {
        StringEquals: { 'aws:SourceAccount': stack.account },
        ArnLike: { 'aws:SourceArn': stack.formatArn({ service: 'bedrock-agentcore', resource: '*', arnFormat: ArnFormat.NO_RESOURCE_NAME }) },
      },
    }),
  });
}

/** VPC network mode creates this service-linked role on first use (AgentCore developer guide, "Using service-linked roles"). */
export const AGENTCORE_NETWORK_SERVICE = 'network.bedrock-agentcore.amazonaws.com';
export const AGENTCORE_NETWORK_SERVICE_LINKED_ROLE = 'AWSServiceRoleForBedrockAgentCoreNetwork';

/** AgentCore Runtime writes a runtime's logs to `<this><runtime id>-<endpoint name>` (the default endpoint is DEFAULT). */
export const AGENTCORE_RUNTIME_LOG_PREFIX = '/aws/bedrock-agentcore/runtimes/';
