import * as path from 'path';
import { ArnFormat, CfnOutput, Duration, Fn, Validations } from 'aws-cdk-lib';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as ecrAssets from 'aws-cdk-lib/aws-ecr-assets';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as s3 from 'aws-cdk-lib/aws-s3';
import { Construct } from 'constructs';
import type { z } from 'zod';
import { AGENTS_CONFIG_ENV, type AgentsConfigSchema } from '../../runtime/agents/agents-config';
import { AGENTCORE_IN_CHINA, AGENTCORE_RUNTIME_LOG_PREFIX, agentCoreServiceRole } from '../china/agentcore';
import { CHINA_URL_SUFFIX, chinaServiceEndpoint } from '../china/china';
import { names } from '../config/names';
import { AgentIdentities, AGENT_ROLES_ENV, GatewayChatApi } from '../constructs/agent-identities';
import { AgentSessionTable } from '../constructs/agent-session-table';
import { AgentToolFunctions, AgentToolFunctionsProps, AGENT_TOOLS_DIR, discoverTools } from '../constructs/agent-tool-functions';
import { AgentCoreApiResources } from '../constructs/agentcore-api';
import { AgentCoreNativeResources, AgentCoreResources, AgentCoreResourcesProps } from '../constructs/agentcore-native';
import { AgentRuntimeSpec, gatewayName } from '../constructs/agentcore-spec';
import { AgentsFargateService, agentsAudience } from '../constructs/agents-fargate-service';
import { EncryptedLogGroup } from '../constructs/encrypted-log-group';
import { InternalTls } from '../constructs/internal-tls';
import { kitKey } from '../constructs/kit-key';
import { LEDGER_PREFIX } from '../constructs/usage-ledger';
import { ChinaStack, ChinaStackProps } from './china-stack';

type AgentsConfigInput = z.input<typeof AgentsConfigSchema>;

/** Left between the server's deadline and the caller's (npm run agents, the load balancer): the 504 with the trace arrives before they give up. */
const DEADLINE_MARGIN_SECONDS = 5;
/** The runtime's default for one agent's run. */
const AGENT_RUN_SECONDS = 60;

/** The server's time limits from agents.invocationTimeoutSeconds: the whole invocation ends before the caller stops waiting, and one agent never outlasts it. */
export function agentTimeouts(invocationTimeoutSeconds: number): NonNullable<AgentsConfigInput['timeouts']> {
  const overallSeconds = Math.max(1, invocationTimeoutSeconds - DEADLINE_MARGIN_SECONDS);
  return { overallSeconds, agentSeconds: Math.min(AGENT_RUN_SECONDS, overallSeconds) };
}
const REPOSITORY_ROOT = path.join(__dirname, '..', '..');

export interface AgentsStackProps extends ChinaStackProps {
  readonly vpc: ec2.IVpc;
  readonly subnets: ec2.SubnetSelection;
  readonly vpcCidr: string;
  readonly internalTls: InternalTls;
  /** The Gateway stack's REST API (id and stage): each agent may call its chat completions, nothing else. */
  readonly gatewayApi: GatewayChatApi;
  /** The model store: the Node.js base image's registry, the key of the weights bucket (which tools read), the access log bucket. */
  readonly registryHost: string;
  readonly weightsKey: kms.IKey;
  readonly accessLogBucket: s3.IBucket;
  /** The key of the Gateway stack's usage ledger (bucket names.ledgerBucket), which the usage tool reads. @default no ledger (ledger.enabled false): tools that read it are not deployed */
  readonly ledgerKey?: kms.IKey;
  /** Tool modules (runtime/agents/tools/*.ts by contract). @default AGENT_TOOLS_DIR */
  readonly toolsDirectory?: string;
}

/**
 * A supervisor and its collaborator agents, as one container (runtime/agents) on AgentCore Runtime
 * in the VPC or on ECS Fargate. Every model call goes through the kit's gateway, signed with a
 * role of the calling agent's own; tools are Lambdas behind an AgentCore Gateway (MCP, IAM auth);
 * sessions are remembered in DynamoDB because AgentCore Memory is not offered in China.
 */
export class AgentsStack extends ChinaStack {
  public readonly key: kms.Key;
  /** The role the agent container runs as. */
  public readonly runtimeRole: iam.Role;
  public readonly identities: AgentIdentities;
  public readonly sessions: AgentSessionTable;
  public readonly securityGroup: ec2.SecurityGroup;
  public readonly image: ecrAssets.DockerImageAsset;
  public readonly tools?: AgentToolFunctions;
  /** AgentCore runtime (agentcore-*) and tool gateway (when there are tools). */
  public readonly agentCore?: AgentCoreResources;
  public readonly fargate?: AgentsFargateService;
  public readonly logGroup: logs.LogGroup;

  constructor(scope: Construct, id: string, props: AgentsStackProps) {
    super(scope, id, props);
    const { config } = props;
    const agents = config.agents;
    const onAgentCore = agents.platform !== 'fargate';

    this.key = kitKey(this, 'Key', { description: `Encrypts the ${config.prefix} agents' session memory, environment and logs` });

    this.runtimeRole = onAgentCore
      ? agentCoreServiceRole(this, this, 'RuntimeRole', `cn-llm-kit ${config.prefix}: AgentCore runtime of the agents`)
      : new iam.Role(this, 'RuntimeRole', { assumedBy: new iam.ServicePrincipal('ecs-tasks.amazonaws.com'), description: `cn-llm-kit ${config.prefix}: Fargate task role of the agents` });

    this.securityGroup = new ec2.SecurityGroup(this, 'SecurityGroup', {
      vpc: props.vpc,
      description: agents.egress === 'vpc-only' ? 'Agents: HTTPS to VPC endpoints and the PRIVATE gateway API only' : 'Agents: HTTPS out only (gateway API and AgentCore Gateway through NAT, AWS APIs through VPC endpoints)',
      allowAllOutbound: false,
    });
    if (agents.egress === 'vpc-only') this.securityGroup.addEgressRule(ec2.Peer.ipv4(props.vpcCidr), ec2.Port.tcp(443), 'HTTPS to VPC endpoints (execute-api, STS, DynamoDB through the gateway route)');
    else this.securityGroup.addEgressRule(ec2.Peer.anyIpv4(), ec2.Port.tcp(443), 'HTTPS to the gateway API, the AgentCore Gateway and AWS endpoints');

    const baseImage = `${props.registryHost}/${names(config).repository('node')}${agents.baseImage.digest ? `@${agents.baseImage.digest}` : `:${agents.baseImage.tag}`}`;
    this.image = new ecrAssets.DockerImageAsset(this, 'Image', {
      directory: REPOSITORY_ROOT,
      file: 'runtime/agents/Dockerfile',
      buildArgs: { BASE_IMAGE: baseImage, NPM_REGISTRY: agents.npmRegistry },
      platform: AGENTCORE_IN_CHINA.imageArchitecture === 'arm64' ? ecrAssets.Platform.LINUX_ARM64 : ecrAssets.Platform.LINUX_AMD64,
      exclude: ['**', '!package.json', '!package-lock.json', '!tsconfig.json', '!runtime/**'],
    });
    this.image.repository.grantPull(this.runtimeRole);
    Validations.of(this.runtimeRole).acknowledge({ id: 'AwsSolutions-IAM5[Resource::*]', reason: 'ecr:GetAuthorizationToken and the X-Ray trace actions (AgentCore Observability) have no resource-level permissions; image pulls are limited to the asset repository.' });

    this.sessions = new AgentSessionTable(this, 'Sessions', { key: this.key, runtimeRole: this.runtimeRole, retain: true });
    const allAgents = [agents.supervisor.name, ...agents.collaborators.map((c) => c.name)];
    this.identities = new AgentIdentities(this, 'Identities', { agents: allAgents, runtimeRole: this.runtimeRole, gatewayApi: props.gatewayApi, prefix: config.prefix });

    // Tools: one Lambda per module, reachable only through the AgentCore Gateway (whose role may invoke exactly these).
    // Each tool reads the data source its module declares; one whose source this deployment lacks (no ledger) is left out.
    const n = names(config);
    const toolSources: AgentToolFunctionsProps['sources'] = {
      documents: { bucketName: n.weightsBucket, prefix: agents.docsPrefix, key: props.weightsKey, decidedBy: 'config agents.docsPrefix' },
      ...(props.ledgerKey && { 'usage-ledger': { bucketName: n.ledgerBucket, prefix: LEDGER_PREFIX, key: props.ledgerKey, decidedBy: 'the usage ledger of the Gateway stack' } }),
    };
    const toolModules = discoverTools(props.toolsDirectory ?? AGENT_TOOLS_DIR).filter((t) => !t.data || toolSources[t.data.source]);
    let gatewayRole: iam.Role | undefined;
    if (toolModules.length > 0) {
      this.tools = new AgentToolFunctions(this, 'Tools', {
        tools: toolModules,
        vpc: props.vpc,
        subnets: props.subnets,
        sources: toolSources,
        key: this.key,
        runtime: config.lambda.runtime,
        architecture: config.lambda.architecture,
        timeout: Duration.seconds(agents.toolTimeoutSeconds),
        memoryMb: agents.toolMemoryMb,
        logRetentionDays: agents.logRetentionDays,
      });
      gatewayRole = agentCoreServiceRole(this, this, 'ToolGatewayRole', `cn-llm-kit ${config.prefix}: AgentCore Gateway of the agent tools`);
      gatewayRole.addToPolicy(new iam.PolicyStatement({ actions: ['lambda:InvokeFunction'], resources: Object.values(this.tools.functions).map((f) => f.functionArn) }));
    }

    const gatewayBaseUrl = `https://${props.gatewayApi.restApiId}.execute-api.${this.region}.${CHINA_URL_SUFFIX}/${props.gatewayApi.stageName}/v1`;
    // Typed by the runtime's schema: a field the server does not know (or lacks) fails compilation here, not the deployed container.
    const agentsConfig = (toolsMcpUrl: string | undefined): AgentsConfigInput => ({
      mode: agents.mode,
      gateway: { baseUrl: gatewayBaseUrl, auth: 'sigv4', region: this.region },
      supervisor: agents.supervisor,
      collaborators: agents.collaborators,
      ...(toolsMcpUrl && { tools: { mcpUrl: toolsMcpUrl, auth: 'sigv4', region: this.region } }),
      memory: { tableName: this.sessions.table.tableName, ttlSeconds: agents.memoryTtlSeconds },
      timeouts: agentTimeouts(agents.invocationTimeoutSeconds),
      // On Fargate nothing but the load balancer stands before the server: callers prove their China identity with an STS token.
      ...(!onAgentCore && { callerAuth: { audience: agentsAudience(config.prefix), allowedAccounts: [config.china.account], stsEndpoints: [chinaServiceEndpoint('sts', this.region)] } }),
    });
    const environment = (toolsMcpUrl: string | undefined): Record<string, string> => ({
      [AGENTS_CONFIG_ENV]: this.toJsonString(agentsConfig(toolsMcpUrl)),
      [AGENT_ROLES_ENV]: this.identities.roleArnsJson(this),
    });
    const subnetIds = props.vpc.selectSubnets(props.subnets).subnetIds;
    const runtimeSpec = (toolsMcpUrl: string | undefined): AgentRuntimeSpec => ({
      name: names(config).agentRuntime,
      description: `cn-llm-kit ${config.prefix} agents (${agents.mode}: ${allAgents.join(', ')})`,
      containerUri: this.image.imageUri,
      roleArn: this.runtimeRole.roleArn,
      subnetIds,
      securityGroupIds: [this.securityGroup.securityGroupId],
      environment: environment(toolsMcpUrl),
      idleSessionTimeoutSeconds: agents.idleSessionTimeoutSeconds,
      maxLifetimeSeconds: agents.maxSessionLifetimeSeconds,
    });
    const agentCoreProps: AgentCoreResourcesProps = {
      runtime: onAgentCore ? runtimeSpec : undefined,
      gateway: gatewayRole && { name: gatewayName(config.prefix), description: `cn-llm-kit ${config.prefix}: tools of the agents (MCP, IAM auth)`, roleArn: gatewayRole.roleArn },
      targets: toolModules.map((t) => ({ name: t.name, description: `cn-llm-kit agent tool ${t.name}`, lambdaArn: this.tools!.functions[t.name].functionArn, tools: t.schemas })),
      runtimeDependsOn: [this.runtimeRole],
      gatewayDependsOn: gatewayRole ? [gatewayRole] : [],
    };
    if (onAgentCore || gatewayRole) {
      this.agentCore =
        agents.platform === 'agentcore-native'
          ? new AgentCoreNativeResources(this, 'AgentCore', agentCoreProps)
          : new AgentCoreApiResources(this, 'AgentCore', {
              ...agentCoreProps,
              passableRoles: [...(onAgentCore ? [this.runtimeRole] : []), ...(gatewayRole ? [gatewayRole] : [])],
              lambdaRuntime: config.lambda.runtime,
              architecture: config.lambda.architecture,
              key: this.key,
              logRetentionDays: agents.logRetentionDays,
            });
    }
    if (this.agentCore?.gatewayArn) {
      this.runtimeRole.addToPolicy(new iam.PolicyStatement({ actions: ['bedrock-agentcore:InvokeGateway'], resources: [this.agentCore.gatewayArn] }));
    }

    // Logs: AgentCore writes to /aws/bedrock-agentcore/runtimes/<runtime id>-DEFAULT; the stack creates that group (KMS, retention).
    // The runtime role gets no logs:CreateLogGroup, so the service cannot make an unencrypted one; it may write to groups of the
    // kit's runtime name only (the id, `<name>-<suffix>`, exists only once the runtime does, after its role's policy).
    this.logGroup = new EncryptedLogGroup(this, 'Logs', {
      retentionDays: agents.logRetentionDays as logs.RetentionDays,
      purpose: 'agent runtime logs',
      retain: true,
      key: this.key,
      logGroupName: onAgentCore ? Fn.join('', [AGENTCORE_RUNTIME_LOG_PREFIX, this.agentCore!.runtimeId!, '-DEFAULT']) : undefined,
    }).logGroup;
    const runtimeLogGroups = onAgentCore
      ? this.formatArn({ service: 'logs', resource: 'log-group', resourceName: `${AGENTCORE_RUNTIME_LOG_PREFIX}${names(config).agentRuntime}-*`, arnFormat: ArnFormat.COLON_RESOURCE_NAME })
      : this.logGroup.logGroupArn;
    this.runtimeRole.addToPolicy(new iam.PolicyStatement({ actions: ['logs:CreateLogStream', 'logs:PutLogEvents', 'logs:DescribeLogStreams'], resources: [runtimeLogGroups] }));
    if (onAgentCore) {
      Validations.of(this.runtimeRole).acknowledge({
        id: `AwsSolutions-IAM5[Resource::arn:aws-cn:logs:${this.region}:${this.account}:log-group:${AGENTCORE_RUNTIME_LOG_PREFIX}${names(config).agentRuntime}-*]`,
        reason: 'AgentCore names the runtime\'s log group after the runtime id (the kit\'s runtime name plus a suffix chosen at creation): the wildcard covers only that suffix and the log streams in it.',
      });
    }

    if (onAgentCore) {
      // AgentCore Observability: traces to X-Ray (CloudWatch Transaction Search) and the service's own metrics namespace.
      this.runtimeRole.addToPolicy(new iam.PolicyStatement({ actions: ['xray:PutTraceSegments', 'xray:PutTelemetryRecords', 'xray:GetSamplingRules', 'xray:GetSamplingTargets'], resources: ['*'] }));
      this.runtimeRole.addToPolicy(new iam.PolicyStatement({ actions: ['cloudwatch:PutMetricData'], resources: ['*'], conditions: { StringEquals: { 'cloudwatch:namespace': 'bedrock-agentcore' } } }));
      new CfnOutput(this, 'RuntimeArn', { value: this.agentCore!.runtimeArn!, description: 'AgentCore runtime of the agents: npm run agents -- invoke "question"' });
    } else {
      this.fargate = new AgentsFargateService(this, 'Fargate', {
        settings: agents.fargate,
        image: this.image,
        environment: { ...environment(this.agentCore?.gatewayUrl), AWS_REGION: this.region },
        vpc: props.vpc,
        subnets: props.subnets,
        vpcCidr: props.vpcCidr,
        securityGroup: this.securityGroup,
        taskRole: this.runtimeRole,
        logGroup: this.logGroup,
        accessLogBucket: props.accessLogBucket,
        internalTls: props.internalTls,
        invocationTimeoutSeconds: agents.invocationTimeoutSeconds,
      });
      new CfnOutput(this, 'AgentsUrl', { value: `${this.fargate.origin}/invocations`, description: 'Agents on Fargate (inside the VPC): npm run agents -- invoke "question" --url <this>' });
    }
    if (this.agentCore?.gatewayUrl) new CfnOutput(this, 'ToolsMcpUrl', { value: this.agentCore.gatewayUrl, description: 'AgentCore Gateway (MCP, SigV4) serving the agent tools' });
    new CfnOutput(this, 'SessionTableName', { value: this.sessions.table.tableName, description: 'DynamoDB table of the agents\' session memory' });
    new CfnOutput(this, 'AgentRoleArns', { value: this.identities.roleArnsJson(this), description: 'The IAM role each agent calls the gateway as (its caller identity in metering and quotas)' });
  }
}
