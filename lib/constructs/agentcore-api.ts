import * as path from 'path';
import { CustomResource, Duration, Stack, Validations } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import { NodejsFunction, OutputFormat } from 'aws-cdk-lib/aws-lambda-nodejs';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as cr from 'aws-cdk-lib/custom-resources';
import { Construct, IConstruct } from 'constructs';
import type { ProvisionProperties } from '../../runtime/agentcore-provisioner/handler';
import { AGENTCORE_NETWORK_SERVICE, AGENTCORE_NETWORK_SERVICE_LINKED_ROLE, AGENTCORE_SERVICE_PRINCIPAL, agentCoreArn } from '../china/agentcore';
import { AgentCoreResources, AgentCoreResourcesProps } from './agentcore-native';
import { agentRuntimeRequest, lambdaTargetRequest, toolGatewayRequest } from './agentcore-spec';
import { EncryptedLogGroup } from './encrypted-log-group';
import { nodeLambdaPlatform } from './lambda-platform';

const HANDLER_ENTRY = path.join(__dirname, '..', '..', 'runtime', 'agentcore-provisioner', 'handler.ts');

export interface AgentCoreApiResourcesProps extends AgentCoreResourcesProps {
  /** Roles AgentCore runs as (runtime, gateway): the only roles the provisioner may pass, and only to AgentCore. */
  readonly passableRoles: readonly iam.IRole[];
  /** The provisioner's own Lambda: pinned runtime and architecture (lambda.runtime, lambda.architecture). */
  readonly lambdaRuntime: string;
  readonly architecture: 'x86_64' | 'arm64';
  readonly key: kms.IKey;
  readonly logRetentionDays: number;
}

/**
 * The runtime, tool gateway and targets created through the AgentCore control-plane API by a
 * custom resource (agents.platform agentcore-api): the China registries lacked the
 * AWS::BedrockAgentCore::* types. The handler waits until each resource is READY, so a deploy
 * fails (and rolls back) when AgentCore cannot create one.
 */
export class AgentCoreApiResources extends Construct implements AgentCoreResources {
  public readonly runtimeArn?: string;
  public readonly runtimeId?: string;
  public readonly gatewayArn?: string;
  public readonly gatewayUrl?: string;
  public readonly provisioner: NodejsFunction;

  constructor(scope: Construct, id: string, props: AgentCoreApiResourcesProps) {
    super(scope, id);
    const stack = Stack.of(this);
    const logGroup = new EncryptedLogGroup(this, 'Logs', { retentionDays: props.logRetentionDays as logs.RetentionDays, purpose: 'AgentCore provisioner logs', retain: true, key: props.key }).logGroup;

    const role = new iam.Role(this, 'Role', { assumedBy: new iam.ServicePrincipal('lambda.amazonaws.com'), description: 'cn-llm-kit: creates the AgentCore runtime, gateway and targets of the Agents stack' });
    role.addToPolicy(new iam.PolicyStatement({ actions: ['logs:CreateLogStream', 'logs:PutLogEvents'], resources: [logGroup.logGroupArn] }));
    const runtimeName = props.runtime && agentRuntimeRequest(props.runtime(undefined)).agentRuntimeName;
    const gatewayName = props.gateway && toolGatewayRequest(props.gateway).name;
    // Ids are the name plus a suffix AgentCore picks (`<name>-<10 characters>`): the kit's names scope every call.
    if (runtimeName) {
      role.addToPolicy(
        new iam.PolicyStatement({
          actions: ['bedrock-agentcore:GetAgentRuntime', 'bedrock-agentcore:UpdateAgentRuntime', 'bedrock-agentcore:DeleteAgentRuntime'],
          resources: [agentCoreArn(stack, 'runtime', `${runtimeName}-*`)],
        }),
      );
    }
    if (gatewayName) {
      role.addToPolicy(
        new iam.PolicyStatement({
          actions: ['bedrock-agentcore:GetGateway', 'bedrock-agentcore:UpdateGateway', 'bedrock-agentcore:DeleteGateway', 'bedrock-agentcore:CreateGatewayTarget', 'bedrock-agentcore:GetGatewayTarget', 'bedrock-agentcore:UpdateGatewayTarget', 'bedrock-agentcore:DeleteGatewayTarget'],
          resources: [agentCoreArn(stack, 'gateway', `${gatewayName}-*`)],
        }),
      );
    }
    // A create names no existing resource: scoped to AgentCore runtimes (gateways) of this account and region.
    if (runtimeName) role.addToPolicy(new iam.PolicyStatement({ actions: ['bedrock-agentcore:CreateAgentRuntime'], resources: [agentCoreArn(stack, 'runtime', '*')] }));
    if (gatewayName) role.addToPolicy(new iam.PolicyStatement({ actions: ['bedrock-agentcore:CreateGateway'], resources: [agentCoreArn(stack, 'gateway', '*')] }));
    role.addToPolicy(
      new iam.PolicyStatement({
        actions: ['iam:PassRole'],
        resources: props.passableRoles.map((r) => r.roleArn),
        conditions: { StringEquals: { 'iam:PassedToService': AGENTCORE_SERVICE_PRINCIPAL } },
      }),
    );
    // The first runtime in VPC mode creates AgentCore's network service-linked role.
    role.addToPolicy(
      new iam.PolicyStatement({
        actions: ['iam:CreateServiceLinkedRole'],
        resources: [stack.formatArn({ service: 'iam', region: '', resource: 'role', resourceName: `aws-service-role/${AGENTCORE_NETWORK_SERVICE}/${AGENTCORE_NETWORK_SERVICE_LINKED_ROLE}` })],
        conditions: { StringEquals: { 'iam:AWSServiceName': AGENTCORE_NETWORK_SERVICE } },
      }),
    );
    const arnPrefix = `arn:aws-cn:bedrock-agentcore:${stack.region}:${stack.account}`;
    const scopedToKitNames = 'AgentCore ids are the kit\'s resource name plus a suffix AgentCore chooses at creation: the wildcard covers only that suffix.';
    const createNamesNothing = 'A create (CreateAgentRuntime, CreateGateway) names no resource yet (AgentCore picks the id): scoped to that resource type in this account and region; every other action is scoped to the kit\'s names.';
    const wildcards: [string, string][] = [
      ...(runtimeName ? ([[`runtime/${runtimeName}-*`, scopedToKitNames], ['runtime/*', createNamesNothing]] as [string, string][]) : []),
      ...(gatewayName ? ([[`gateway/${gatewayName}-*`, scopedToKitNames], ['gateway/*', createNamesNothing]] as [string, string][]) : []),
    ];
    for (const [resource, reason] of wildcards) Validations.of(role).acknowledge({ id: `AwsSolutions-IAM5[Resource::${arnPrefix}:${resource}]`, reason });

    this.provisioner = new NodejsFunction(this, 'Function', {
      entry: HANDLER_ENTRY,
      handler: 'handler',
      ...nodeLambdaPlatform(props.lambdaRuntime, props.architecture),
      // Creating a runtime in VPC mode takes minutes (ENIs); the handler stops waiting 20 s before this.
      timeout: Duration.minutes(14),
      memorySize: 256,
      role,
      logGroup,
      description: 'cn-llm-kit: AgentCore runtime, gateway and targets through the control-plane API (agents.platform agentcore-api)',
      bundling: { minify: true, sourceMap: true, format: OutputFormat.CJS, target: 'node20' },
      environment: { NODE_OPTIONS: '--enable-source-maps' },
    });
    Validations.of(this.provisioner).acknowledge({
      id: 'NIST.800.53.R5-LambdaInsideVPC',
      reason: 'The provisioner calls only the AgentCore control plane and CloudFormation\'s response URL, once per deploy; it handles no data.',
    });
    const provider = new cr.Provider(this, 'Provider', { onEventHandler: this.provisioner, logGroup });
    const provisionerLogicalId = stack.getLogicalId(this.provisioner.node.defaultChild as lambda.CfnFunction);
    for (const id of ['AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole]', `AwsSolutions-IAM5[Resource::<${provisionerLogicalId}.Arn>:*]`]) {
      Validations.of(provider).acknowledge({ id, reason: 'CDK\'s custom resource provider framework: its function only relays CloudFormation events to the provisioner (invoke of that one function and versions) and writes its own logs.' });
    }

    const resource = (id: string, properties: ProvisionProperties, dependsOn: readonly IConstruct[] = []) => {
      const r = new CustomResource(this, id, { serviceToken: provider.serviceToken, resourceType: `Custom::AgentCore${properties.Kind}`, properties: { ...properties } });
      for (const dep of dependsOn) r.node.addDependency(dep);
      return r;
    };
    const json = (request: object) => stack.toJsonString(request);

    let gateway: CustomResource | undefined;
    if (props.gateway) {
      gateway = resource('ToolGateway', { Kind: 'Gateway', Request: json(toolGatewayRequest(props.gateway)) }, props.gatewayDependsOn);
      for (const target of props.targets) {
        resource(`Target-${target.name}`, { Kind: 'GatewayTarget', GatewayId: gateway.ref, Request: json(lambdaTargetRequest(target)) }, props.gatewayDependsOn);
      }
      this.gatewayArn = gateway.getAttString('GatewayArn');
      this.gatewayUrl = gateway.getAttString('GatewayUrl');
    }
    if (!props.runtime) return;
    const runtime = resource('Runtime', { Kind: 'Runtime', Request: json(agentRuntimeRequest(props.runtime(this.gatewayUrl))) }, props.runtimeDependsOn);
    this.runtimeArn = runtime.getAttString('AgentRuntimeArn');
    this.runtimeId = runtime.ref;
  }
}
