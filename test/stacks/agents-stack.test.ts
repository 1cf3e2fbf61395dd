import { execFile } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { promisify } from 'util';
import { App, Stack } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import * as iam from 'aws-cdk-lib/aws-iam';
import { ConfigError, loadConfig } from '../../lib/config/load';
import { AgentCoreNativeResources } from '../../lib/constructs/agentcore-native';
import { agentRuntimeRequest, lambdaTargetRequest, toolGatewayRequest } from '../../lib/constructs/agentcore-spec';
import { discoverTools } from '../../lib/constructs/agent-tool-functions';
import { parseAgentsConfig } from '../../runtime/agents/agents-config';
import { agentTimeouts } from '../../lib/stacks/agents-stack';
import { cliEnv, REPO_ROOT } from '../helpers/cli';
import { cdkJsonContext, kitApp } from '../helpers/kit-app';
import { resourcesOf } from '../helpers/template';

const TOOLS = path.join(__dirname, '..', 'fixtures', 'agent-tools');
const ACCOUNT = '111122223333';
const REGION = 'cn-northwest-1';

type Json = any;

/** A `Fn::Join` (or plain string) rendered with every token replaced by `<token>`. */
function render(value: Json): string {
  if (typeof value === 'string') return value;
  if (value && value['Fn::Join']) return (value['Fn::Join'][1] as Json[]).map((p) => (typeof p === 'string' ? p : '<token>')).join('');
  return '<token>';
}

/** Every IAM statement of the template (identity policies and trust policies). */
function statementsOf(template: Template): { id: string; statement: Json }[] {
  const json = template.toJSON().Resources as Record<string, Json>;
  return Object.entries(json).flatMap(([id, r]) => {
    const docs = r.Type === 'AWS::IAM::Policy' ? [r.Properties.PolicyDocument] : r.Type === 'AWS::IAM::Role' ? [r.Properties.AssumeRolePolicyDocument, ...(r.Properties.Policies ?? []).map((p: Json) => p.PolicyDocument)] : [];
    return docs.flatMap((d: Json) => d.Statement.map((statement: Json) => ({ id, statement })));
  });
}

const asList = (v: Json) => (Array.isArray(v) ? v : [v]);
const customResource = (template: Template, kind: string) => resourcesOf(template, `Custom::AgentCore${kind}`).map((r) => ({ ...r.Properties, request: JSON.parse(render(r.Properties.Request).replace(/<token>/g, 'TOKEN')) }));
const logicalIdOf = (template: Template, type: string, predicate: (r: Json) => boolean) => Object.entries(template.findResources(type)).find(([, r]) => predicate(r))![0];

describe('Agents stack, agents.platform agentcore-api (the default): custom resources on the AgentCore control plane', () => {
  // Full synth: cdk-nag (AwsSolutions, ChinaRegion) and the TemplateFormat checks throw on any unacknowledged finding.
  const { app, kit } = kitApp({ 'stacks.agents': 'true' }, { agentToolsDirectory: TOOLS });
  const assembly = app.synth();
  const template = Template.fromStack(kit.agents!);
  const json = template.toJSON();

  test('synthesizes with every check of the kit passing (cdk-nag clean or acknowledged, China registry types only)', () => {
    expect(assembly.getStackByName('cnllm-Agents').template.Resources).toBeDefined();
    const types = new Set(Object.values<Json>(json.Resources).map((r) => r.Type));
    expect([...types].filter((t) => t.startsWith('AWS::BedrockAgentCore::'))).toEqual([]);
    expect([...types].filter((t) => t.startsWith('Custom::')).sort()).toEqual(['Custom::AgentCoreGateway', 'Custom::AgentCoreGatewayTarget', 'Custom::AgentCoreRuntime']);
  });

  test('the runtime: the agent image from the private ECR, in the VPC (private subnets, own security group), HTTP contract, lifecycle from config', () => {
    const [runtime] = customResource(template, 'Runtime');
    const request = runtime.request;
    expect(request.agentRuntimeName).toBe('cnllm_agents');
    expect(render(resourcesOf(template, 'Custom::AgentCoreRuntime')[0].Properties.Request)).toMatch(/"containerUri":"<token>"/);
    const containerUri = JSON.stringify(resourcesOf(template, 'Custom::AgentCoreRuntime')[0].Properties.Request);
    expect(containerUri).toContain(`${ACCOUNT}.dkr.ecr.${REGION}.\${AWS::URLSuffix}/cdk-hnb659fds-container-assets-${ACCOUNT}-${REGION}:`);
    expect(request.networkConfiguration.networkMode).toBe('VPC');
    expect(request.networkConfiguration.networkModeConfig.subnets).toHaveLength(3);
    expect(request.networkConfiguration.networkModeConfig.securityGroups).toEqual(['TOKEN']);
    expect(request.protocolConfiguration).toEqual({ serverProtocol: 'HTTP' });
    expect(request.lifecycleConfiguration).toEqual({ idleRuntimeSessionTimeout: 900, maxLifetime: 28800 });
    expect(request.roleArn).toBe('TOKEN');
  });

  test('CNLLM_AGENTS_CONFIG follows the contract: SigV4 gateway URL in China, agents, tools MCP URL, session memory; roles per agent beside it', () => {
    const [runtime] = customResource(template, 'Runtime');
    const env = runtime.request.environmentVariables;
    const config = JSON.parse(env.CNLLM_AGENTS_CONFIG);
    expect(config.mode).toBe('supervisor');
    expect(config.gateway).toEqual({ baseUrl: 'https://TOKEN.execute-api.cn-northwest-1.amazonaws.com.cn/TOKEN/v1', auth: 'sigv4', region: REGION });
    expect(config.supervisor).toEqual(expect.objectContaining({ name: 'supervisor', model: 'nova-pro' }));
    expect(config.collaborators.map((c: Json) => [c.name, c.model])).toEqual([['researcher', 'nova-lite'], ['writer', 'nova-pro']]);
    expect(config.tools).toEqual({ mcpUrl: 'TOKEN', auth: 'sigv4', region: REGION });
    expect(config.memory).toEqual({ tableName: 'TOKEN', ttlSeconds: 86400 });
    expect(Object.keys(JSON.parse(env.CNLLM_AGENT_ROLE_ARNS))).toEqual(['supervisor', 'researcher', 'writer']);
    // The agent server accepts it as the stack renders it (tokens standing in for resolved values); AgentCore authenticates callers itself.
    const resolved = parseAgentsConfig({ ...config, tools: { ...config.tools, mcpUrl: 'https://gw.gateway.bedrock-agentcore.cn-northwest-1.amazonaws.com.cn/mcp' } });
    expect(resolved.callerAuth).toBeUndefined();
    // The server's deadline falls before the caller's (agents.invocationTimeoutSeconds, 300 by default).
    expect(config.timeouts).toEqual({ overallSeconds: 295, agentSeconds: 60 });
    expect(resolved.memory).toEqual({ tableName: 'TOKEN', ttlSeconds: 86400, maxTurns: 10 });
    // No secrets: the whole environment is settings and resource names.
    expect(JSON.stringify(env)).not.toMatch(/secret|password|apiKey/i);
  });

  test('IAM is least privilege with China ARNs: no wildcard action, no global-partition ARN', () => {
    const statements = statementsOf(template);
    expect(statements.length).toBeGreaterThan(20);
    for (const { id, statement } of statements) {
      for (const action of asList(statement.Action)) expect([id, action]).not.toEqual([id, expect.stringMatching(/^\*$|:\*$/)]);
    }
    expect(JSON.stringify(json)).not.toContain('arn:aws:');
    expect(JSON.stringify(json)).not.toMatch(/"arn:\$\{AWS::Partition\}/);
  });

  test('each agent has its own role, trusted only by the runtime role, allowed only POST /v1/chat/completions of the gateway', () => {
    const runtimeRole = logicalIdOf(template, 'AWS::IAM::Role', (r) => r.Properties.AssumeRolePolicyDocument.Statement[0].Principal.Service === 'bedrock-agentcore.amazonaws.com' && r.Properties.Description.includes('runtime'));
    for (const agent of ['supervisor', 'researcher', 'writer']) {
      const roleId = logicalIdOf(template, 'AWS::IAM::Role', (r) => r.Properties.Description?.includes(`agent "${agent}"`));
      const role = json.Resources[roleId];
      expect(role.Properties.AssumeRolePolicyDocument.Statement).toEqual([{ Action: 'sts:AssumeRole', Effect: 'Allow', Principal: { AWS: { 'Fn::GetAtt': [runtimeRole, 'Arn'] } } }]);
      const own = statementsOf(template).filter((s) => s.statement.Action === 'execute-api:Invoke' && JSON.stringify(json.Resources[s.id].Properties.Roles) === JSON.stringify([{ Ref: roleId }]));
      expect(own).toHaveLength(1);
      expect(render(own[0].statement.Resource)).toBe('arn:aws-cn:execute-api:cn-northwest-1:111122223333:<token>/<token>/POST/v1/chat/completions');
    }
    const assume = statementsOf(template).find((s) => s.statement.Action === 'sts:AssumeRole' && s.statement.Resource)!;
    expect(json.Resources[assume.id].Properties.Roles).toEqual([{ Ref: runtimeRole }]);
    expect(assume.statement.Resource).toHaveLength(3);
    // Nobody else may call the gateway.
    expect(statementsOf(template).filter((s) => s.statement.Action === 'execute-api:Invoke')).toHaveLength(3);
  });

  test('PassRole: only the runtime and tool gateway roles, only to AgentCore', () => {
    const passRole = statementsOf(template).filter((s) => asList(s.statement.Action).includes('iam:PassRole'));
    expect(passRole).toHaveLength(1);
    expect(passRole[0].statement.Condition).toEqual({ StringEquals: { 'iam:PassedToService': 'bedrock-agentcore.amazonaws.com' } });
    const roles = passRole[0].statement.Resource.map((r: Json) => r['Fn::GetAtt'][0]).sort();
    expect(roles).toEqual([logicalIdOf(template, 'AWS::IAM::Role', (r) => r.Properties.Description?.includes('AgentCore runtime')), logicalIdOf(template, 'AWS::IAM::Role', (r) => r.Properties.Description?.includes('AgentCore Gateway'))].sort());
  });

  test('the provisioner may create AgentCore resources in this account and region and touch only the kit\'s names', () => {
    const provisioner = statementsOf(template).filter((s) => asList(s.statement.Action).some((a: string) => a.startsWith('bedrock-agentcore:')) && asList(s.statement.Action).some((a: string) => /Create|Update|Delete/.test(a)));
    const byResource = Object.fromEntries(provisioner.map((s) => [s.statement.Resource, asList(s.statement.Action).sort()]));
    expect(byResource).toEqual({
      'arn:aws-cn:bedrock-agentcore:cn-northwest-1:111122223333:runtime/cnllm_agents-*': ['bedrock-agentcore:DeleteAgentRuntime', 'bedrock-agentcore:GetAgentRuntime', 'bedrock-agentcore:UpdateAgentRuntime'],
      'arn:aws-cn:bedrock-agentcore:cn-northwest-1:111122223333:gateway/cnllm-agent-tools-*': ['bedrock-agentcore:CreateGatewayTarget', 'bedrock-agentcore:DeleteGateway', 'bedrock-agentcore:DeleteGatewayTarget', 'bedrock-agentcore:GetGateway', 'bedrock-agentcore:GetGatewayTarget', 'bedrock-agentcore:UpdateGateway', 'bedrock-agentcore:UpdateGatewayTarget'],
      'arn:aws-cn:bedrock-agentcore:cn-northwest-1:111122223333:runtime/*': ['bedrock-agentcore:CreateAgentRuntime'],
      'arn:aws-cn:bedrock-agentcore:cn-northwest-1:111122223333:gateway/*': ['bedrock-agentcore:CreateGateway'],
    });
  });

  test('AgentCore roles trust the service only for this account and region (confused deputy)', () => {
    const trusts = statementsOf(template).filter((s) => s.statement.Principal?.Service === 'bedrock-agentcore.amazonaws.com');
    expect(trusts).toHaveLength(2);
    for (const { statement } of trusts) {
      expect(statement.Condition).toEqual({ StringEquals: { 'aws:SourceAccount': ACCOUNT }, ArnLike: { 'aws:SourceArn': `arn:aws-cn:bedrock-agentcore:${REGION}:${ACCOUNT}:*` } });
    }
  });

  test('session memory: KMS with the stack key, TTL, point-in-time recovery; only the runtime role may read and write it', () => {
    const [table] = resourcesOf(template, 'AWS::DynamoDB::Table');
    const tableId = logicalIdOf(template, 'AWS::DynamoDB::Table', () => true);
    const keyId = logicalIdOf(template, 'AWS::KMS::Key', () => true);
    expect(table.Properties.SSESpecification).toEqual({ KMSMasterKeyId: { 'Fn::GetAtt': [keyId, 'Arn'] }, SSEEnabled: true, SSEType: 'KMS' });
    expect(table.Properties.TimeToLiveSpecification).toEqual({ AttributeName: 'expiresAt', Enabled: true });
    expect(table.Properties.PointInTimeRecoverySpecification).toEqual({ PointInTimeRecoveryEnabled: true });
    expect(table.Properties.KeySchema).toEqual([{ AttributeName: 'sessionId', KeyType: 'HASH' }]);
    const users = statementsOf(template).filter((s) => JSON.stringify(s.statement.Resource ?? '').includes(tableId));
    expect(users).toHaveLength(1);
    expect(asList(users[0].statement.Action).sort()).toEqual(['dynamodb:DeleteItem', 'dynamodb:GetItem', 'dynamodb:PutItem', 'dynamodb:UpdateItem']);
    const runtimeRole = logicalIdOf(template, 'AWS::IAM::Role', (r) => r.Properties.Description?.includes('AgentCore runtime'));
    expect(json.Resources[users[0].id].Properties.Roles).toEqual([{ Ref: runtimeRole }]);
  });

  test('tools: one Lambda per tool module, in the VPC, pinned runtime, each reading only its own prefix; the gateway may invoke only them', () => {
    const tools = resourcesOf(template, 'AWS::Lambda::Function').filter((f) => f.Properties.Description?.startsWith('cn-llm-kit agent tool'));
    expect(tools.map((f) => f.Properties.Description).sort()).toEqual(['cn-llm-kit agent tool docs (AgentCore Gateway target): search_docs', 'cn-llm-kit agent tool ledger (AgentCore Gateway target): usage_by_group']);
    for (const f of tools) {
      expect(f.Properties.Runtime).toBe('nodejs22.x');
      expect(f.Properties.VpcConfig.SubnetIds).toHaveLength(3);
      expect(f.Properties.KmsKeyArn).toBeDefined();
    }
    const reads = statementsOf(template).filter((s) => s.statement.Action === 's3:GetObject').map((s) => s.statement.Resource);
    expect(reads.sort()).toEqual(['arn:aws-cn:s3:::cnllm-ledger-111122223333-cn-northwest-1/ledger/*', 'arn:aws-cn:s3:::cnllm-weights-111122223333-cn-northwest-1/docs/*']);
    const invoke = statementsOf(template).filter((s) => s.statement.Action === 'lambda:InvokeFunction' && !JSON.stringify(s.statement.Resource).includes('AgentCoreFunction'));
    expect(invoke).toHaveLength(1);
    const toolIds = Object.entries(template.findResources('AWS::Lambda::Function')).filter(([, f]) => f.Properties.Description?.startsWith('cn-llm-kit agent tool')).map(([id]) => id);
    expect(invoke[0].statement.Resource.map((r: Json) => r['Fn::GetAtt'][0]).sort()).toEqual(toolIds.sort());
  });

  test('each tool gets what its TOOL_DATA says it reads: the ledger tool the Gateway stack\'s ledger bucket and key, the docs tool the docs prefix of the weights bucket, in the variables it reads', () => {
    const gatewayJson = Template.fromStack(kit.gateway!).toJSON();
    const ledgerKeyId = Object.entries<Json>(gatewayJson.Resources).find(([, r]) => r.Type === 'AWS::KMS::Key' && r.Properties.Description.startsWith('Encrypts the usage ledger'))![0];
    const functions = Object.entries<Json>(template.findResources('AWS::Lambda::Function')).filter(([, f]) => f.Properties.Description?.startsWith('cn-llm-kit agent tool'));
    const byTool = Object.fromEntries(functions.map(([, f]) => [f.Properties.Description.split(' ')[3], f]));
    expect(byTool.ledger.Properties.Environment.Variables).toEqual({ CNLLM_LEDGER_BUCKET: 'cnllm-ledger-111122223333-cn-northwest-1', CNLLM_LEDGER_PREFIX: 'ledger/', NODE_OPTIONS: '--enable-source-maps' });
    expect(byTool.docs.Properties.Environment.Variables).toEqual({ CNLLM_DOCS_BUCKET: 'cnllm-weights-111122223333-cn-northwest-1', CNLLM_DOCS_PREFIX: 'docs/', NODE_OPTIONS: '--enable-source-maps' });
    const grantsOf = (tool: string) => {
      const role = byTool[tool].Properties.Role['Fn::GetAtt'][0];
      return statementsOf(template).filter((s) => JSON.stringify(json.Resources[s.id].Properties.Roles ?? []) === JSON.stringify([{ Ref: role }])).map((s) => s.statement).filter((st) => /^(s3|kms):/.test(asList(st.Action)[0]));
    };
    const ledger = grantsOf('ledger');
    expect(ledger.map((st) => st.Action)).toEqual(['s3:GetObject', 's3:ListBucket', 'kms:Decrypt']);
    expect(ledger[1]).toEqual(expect.objectContaining({ Resource: 'arn:aws-cn:s3:::cnllm-ledger-111122223333-cn-northwest-1', Condition: { StringLike: { 's3:prefix': ['ledger/*'] } } }));
    expect(ledger[2].Condition).toEqual({ StringEquals: { 'kms:ViaService': ['s3.cn-northwest-1.amazonaws.com', 's3.cn-northwest-1.amazonaws.com.cn'] } });
    // The ledger's own key, by a typed reference from the Gateway stack (its ARN as a stack output), not the weights key.
    expect(JSON.stringify(ledger[2].Resource)).toContain('"StackName":"cnllm-Gateway"');
    expect(JSON.stringify(ledger[2].Resource)).toContain(ledgerKeyId);
    const docs = grantsOf('docs');
    expect(docs.map((st) => st.Action)).toEqual(['s3:GetObject', 's3:ListBucket', 'kms:Decrypt']);
    expect(docs[1]).toEqual(expect.objectContaining({ Resource: 'arn:aws-cn:s3:::cnllm-weights-111122223333-cn-northwest-1', Condition: { StringLike: { 's3:prefix': ['docs/*'] } } }));
    expect(JSON.stringify(docs[2].Resource)).not.toContain(ledgerKeyId);
  });

  test('the kit\'s own tools declare the data they read, in the variables their code reads', () => {
    expect(discoverTools().map((t) => [t.name, t.data])).toEqual([
      ['doc-search', { source: 'documents', bucketEnv: 'CNLLM_DOCS_BUCKET', prefixEnv: 'CNLLM_DOCS_PREFIX' }],
      ['usage-summary', { source: 'usage-ledger', bucketEnv: 'CNLLM_LEDGER_BUCKET', prefixEnv: 'CNLLM_LEDGER_PREFIX' }],
    ]);
  });

  test('the kit\'s own tools load where `cdk synth` runs the app: the esbuild bundle of bin/cn-llm-kit.ts on plain Node, not ts-jest', async () => {
    // ts-jest compiles any required .ts file; the CLI does not, and a plain require() of a tool module failed there.
    const outdir = fs.mkdtempSync(path.join(os.tmpdir(), 'cnllm-agents-cli-'));
    const context = { ...cdkJsonContext(), 'aws:cdk:bundling-stacks': [], 'stacks.agents': 'true', 'stacks.vllmEc2': 'false', 'stacks.bedrockAccess': 'false' };
    const env = cliEnv({ CDK_CONTEXT_JSON: JSON.stringify(context), CDK_OUTDIR: outdir, CDK_VALIDATION: 'false', CNLLM_COMPLIANCE_REPORT_DIR: path.join(outdir, 'report') });
    await promisify(execFile)(process.execPath, [path.join(REPO_ROOT, 'scripts', 'run-ts.cjs'), 'bin/cn-llm-kit.ts'], { cwd: REPO_ROOT, env, timeout: 170000 });
    const agents = JSON.parse(fs.readFileSync(path.join(outdir, 'cnllm-Agents.template.json'), 'utf8'));
    const toolFunctions = Object.values<Json>(agents.Resources).filter((r) => r.Type === 'AWS::Lambda::Function' && /agent tool/.test(r.Properties.Description ?? ''));
    expect(toolFunctions.map((f) => f.Properties.Description.split(' (')[0]).sort()).toEqual(['cn-llm-kit agent tool doc-search', 'cn-llm-kit agent tool usage-summary']);
  }, 180000);

  test('gateway targets carry the TOOL_SCHEMAS of each module, cut to the keywords AgentCore accepts', () => {
    const targets = customResource(template, 'GatewayTarget');
    expect(targets.map((t) => t.request.name).sort()).toEqual(['docs', 'ledger']);
    const docs = targets.find((t) => t.request.name === 'docs')!.request;
    expect(docs.credentialProviderConfigurations).toEqual([{ credentialProviderType: 'GATEWAY_IAM_ROLE' }]);
    expect(docs.targetConfiguration.mcp.lambda.toolSchema.inlinePayload).toEqual([
      { name: 'search_docs', description: expect.any(String), inputSchema: { type: 'object', properties: { query: { type: 'string', description: 'words to look for' }, limit: { type: 'integer', description: 'most passages' } }, required: ['query'] } },
    ]);
    const [gateway] = customResource(template, 'Gateway');
    expect(gateway.request).toEqual(expect.objectContaining({ name: 'cnllm-agent-tools', protocolType: 'MCP', authorizerType: 'AWS_IAM' }));
  });

  test('the agents\' security group sends HTTPS only; the runtime log group is KMS-encrypted, named after the runtime, and kept', () => {
    const sg = resourcesOf(template, 'AWS::EC2::SecurityGroup').find((g) => g.Properties.GroupDescription.startsWith('Agents:'))!;
    expect(sg.Properties.SecurityGroupEgress).toEqual([expect.objectContaining({ IpProtocol: 'tcp', FromPort: 443, ToPort: 443 })]);
    const logGroup = Object.values<Json>(json.Resources).find((r) => r.Type === 'AWS::Logs::LogGroup' && JSON.stringify(r.Properties.LogGroupName ?? '').includes('/aws/bedrock-agentcore/runtimes/'))!;
    expect(render(logGroup.Properties.LogGroupName)).toBe('/aws/bedrock-agentcore/runtimes/<token>-DEFAULT');
    expect(logGroup.Properties.KmsKeyId).toBeDefined();
    expect(logGroup.Properties.RetentionInDays).toBe(365);
    expect(logGroup.DeletionPolicy).toBe('Retain');
    // The runtime may not create log groups itself (which would be unencrypted).
    expect(statementsOf(template).some((s) => asList(s.statement.Action).includes('logs:CreateLogGroup'))).toBe(false);
  });

  test('outputs: the runtime ARN for npm run agents, the tools URL, the table, the agents\' roles (literal descriptions)', () => {
    expect(Object.keys(json.Outputs).sort()).toEqual(['AgentRoleArns', 'RuntimeArn', 'SessionTableName', 'ToolsMcpUrl']);
    for (const output of Object.values<Json>(json.Outputs)) expect(typeof output.Description).toBe('string');
  });
});

describe('the agent server\'s time limits from agents.invocationTimeoutSeconds', () => {
  test.each([
    [10, { overallSeconds: 5, agentSeconds: 5 }],
    [60, { overallSeconds: 55, agentSeconds: 55 }],
    [300, { overallSeconds: 295, agentSeconds: 60 }],
    [3600, { overallSeconds: 3595, agentSeconds: 60 }],
  ])('%i s: %j, which the server accepts', (invocation, expected) => {
    expect(agentTimeouts(invocation)).toEqual(expected);
    const config = { mode: 'supervisor', gateway: { baseUrl: 'https://a.execute-api.cn-northwest-1.amazonaws.com.cn/prod/v1', auth: 'sigv4', region: REGION }, supervisor: { name: 'supervisor', model: 'nova-pro', instructions: 'x' }, collaborators: [{ name: 'writer', model: 'nova-pro', description: 'd', instructions: 'x' }] };
    expect(parseAgentsConfig({ ...config, timeouts: agentTimeouts(invocation) }).timeouts).toEqual(expected);
  });
});

describe('Agents stack, agents.platform fargate: the same container on ECS behind an internal HTTPS load balancer', () => {
  const { app, kit } = kitApp({ 'stacks.agents': 'true', 'agents.platform': 'fargate' }, { agentToolsDirectory: TOOLS });
  app.synth();
  const template = Template.fromStack(kit.agents!);
  const json = template.toJSON();

  test('no AgentCore runtime; tools still behind the AgentCore Gateway; the task role is the agents\' runtime role', () => {
    expect(resourcesOf(template, 'Custom::AgentCoreRuntime')).toHaveLength(0);
    expect(resourcesOf(template, 'Custom::AgentCoreGateway')).toHaveLength(1);
    const [task] = resourcesOf(template, 'AWS::ECS::TaskDefinition');
    const taskRole = task.Properties.TaskRoleArn['Fn::GetAtt'][0];
    expect(json.Resources[taskRole].Properties.AssumeRolePolicyDocument.Statement[0].Principal).toEqual({ Service: 'ecs-tasks.amazonaws.com' });
    expect(task.Properties.RuntimePlatform).toEqual({ CpuArchitecture: 'ARM64', OperatingSystemFamily: 'LINUX' });
    const env = Object.fromEntries(task.Properties.ContainerDefinitions[0].Environment.map((e: Json) => [e.Name, e.Value]));
    const agentsConfig = JSON.parse(render(env.CNLLM_AGENTS_CONFIG).replace(/<token>/g, 'TOKEN'));
    expect(agentsConfig.tools).toEqual({ mcpUrl: 'TOKEN', auth: 'sigv4', region: REGION });
    // Behind the load balancer the server checks the STS token npm run agents -- invoke sends (audience <prefix>-agents, the China account, the region's STS).
    expect(agentsConfig.callerAuth).toEqual({ audience: 'cnllm-agents', allowedAccounts: [ACCOUNT], stsEndpoints: [`https://sts.${REGION}.amazonaws.com.cn`] });
    expect(parseAgentsConfig({ ...agentsConfig, tools: { ...agentsConfig.tools, mcpUrl: 'https://gw.example.amazonaws.com.cn/mcp' } }).callerAuth?.audience).toBe('cnllm-agents');
    expect(env.AWS_REGION).toBe(REGION);
    const passRole = statementsOf(template).find((s) => asList(s.statement.Action).includes('iam:PassRole'))!;
    expect(asList(passRole.statement.Resource).map((r: Json) => r['Fn::GetAtt'][0])).toEqual([logicalIdOf(template, 'AWS::IAM::Role', (r) => r.Properties.Description?.includes('AgentCore Gateway'))]);
  });

  test('an internal ALB with an HTTPS (TLS 1.2+) listener on agents.<domain>, health checks on the contract\'s /ping', () => {
    template.hasResourceProperties('AWS::ElasticLoadBalancingV2::LoadBalancer', { Scheme: 'internal' });
    template.hasResourceProperties('AWS::ElasticLoadBalancingV2::Listener', { Port: 443, Protocol: 'HTTPS', SslPolicy: 'ELBSecurityPolicy-TLS13-1-2-2021-06' });
    template.hasResourceProperties('AWS::ElasticLoadBalancingV2::TargetGroup', { HealthCheckPath: '/ping', Port: 8080 });
    template.hasResourceProperties('AWS::Route53::RecordSet', { Name: 'agents.cnllm.internal.' });
    expect(json.Outputs.AgentsUrl.Value).toBe('https://agents.cnllm.internal/invocations');
  });
});

describe('agents.platform agentcore-native', () => {
  test('in a China region whose registry lacks AWS::BedrockAgentCore::*, synth fails naming agents.platform and the fix', () => {
    const cdkValidation = process.env.CDK_VALIDATION;
    process.env.CDK_VALIDATION = 'false';
    try {
      const { app } = kitApp({ 'stacks.agents': 'true', 'agents.platform': 'agentcore-native' }, { agentToolsDirectory: TOOLS });
      expect(() => app.synth()).toThrow(/AWS::BedrockAgentCore::Runtime is not in the cn-northwest-1 CloudFormation registry[\s\S]*Set agents.platform to agentcore-api/);
    } finally {
      if (cdkValidation === undefined) delete process.env.CDK_VALIDATION;
      else process.env.CDK_VALIDATION = cdkValidation;
    }
  });

  test('the native construct renders the same runtime, gateway and targets as the control-plane requests', () => {
    // Outside China (no registry to check against): the construct's own output.
    const stack = new Stack(new App(), 'Native', { env: { account: ACCOUNT, region: 'us-east-1' } });
    const role = new iam.Role(stack, 'Role', { assumedBy: new iam.ServicePrincipal('bedrock-agentcore.amazonaws.com') });
    const tools = discoverTools(TOOLS);
    const runtimeSpec = (mcp: string | undefined) => ({ name: 'kit_agents', description: 'd', containerUri: '111122223333.dkr.ecr.cn-northwest-1.amazonaws.com.cn/r:t', roleArn: role.roleArn, subnetIds: ['subnet-0123456789abcdef0'], securityGroupIds: ['sg-0123456789abcdef0'], environment: { MCP: mcp ?? 'none' }, idleSessionTimeoutSeconds: 900, maxLifetimeSeconds: 3600 });
    const targets = tools.map((t) => ({ name: t.name, description: t.name, lambdaArn: `arn:aws-cn:lambda:cn-northwest-1:${ACCOUNT}:function:${t.name}`, tools: t.schemas }));
    const gateway = { name: 'kit-agent-tools', description: 'g', roleArn: role.roleArn };
    new AgentCoreNativeResources(stack, 'AgentCore', { runtime: runtimeSpec, gateway, targets, runtimeDependsOn: [role], gatewayDependsOn: [role] });
    const t = Template.fromStack(stack);
    const resolved = (v: unknown) => stack.resolve(v);
    const [runtime] = resourcesOf(t, 'AWS::BedrockAgentCore::Runtime');
    const request = resolved(agentRuntimeRequest(runtimeSpec('x')));
    expect(runtime.Properties).toEqual({
      AgentRuntimeName: 'kit_agents',
      Description: 'd',
      AgentRuntimeArtifact: { ContainerConfiguration: { ContainerUri: request.agentRuntimeArtifact.containerConfiguration.containerUri } },
      RoleArn: request.roleArn,
      NetworkConfiguration: { NetworkMode: 'VPC', NetworkModeConfig: { Subnets: ['subnet-0123456789abcdef0'], SecurityGroups: ['sg-0123456789abcdef0'] } },
      ProtocolConfiguration: 'HTTP',
      EnvironmentVariables: { MCP: { 'Fn::GetAtt': [expect.stringMatching(/^AgentCoreToolGateway/), 'GatewayUrl'] } },
      LifecycleConfiguration: { IdleRuntimeSessionTimeout: 900, MaxLifetime: 3600 },
    });
    const [cfnGateway] = resourcesOf(t, 'AWS::BedrockAgentCore::Gateway');
    expect(cfnGateway.Properties).toEqual({ Name: gateway.name, Description: 'g', RoleArn: resolved(role.roleArn), ProtocolType: 'MCP', AuthorizerType: 'AWS_IAM' });
    expect(toolGatewayRequest(gateway).authorizerType).toBe('AWS_IAM');
    const cfnTargets = resourcesOf(t, 'AWS::BedrockAgentCore::GatewayTarget');
    expect(cfnTargets.map((x) => x.Properties.Name).sort()).toEqual(['docs', 'ledger']);
    const docs = cfnTargets.find((x) => x.Properties.Name === 'docs')!.Properties;
    const api = lambdaTargetRequest(targets.find((x) => x.name === 'docs')!);
    expect(docs.TargetConfiguration.Mcp.Lambda.ToolSchema.InlinePayload).toEqual(
      api.targetConfiguration.mcp.lambda.toolSchema.inlinePayload.map((tool) => ({ Name: tool.name, Description: tool.description, InputSchema: { Type: 'object', Properties: Object.fromEntries(Object.entries(tool.inputSchema.properties!).map(([k, v]) => [k, { Type: v.type, Description: v.description }])), Required: tool.inputSchema.required } })),
    );
    expect(docs.CredentialProviderConfigurations).toEqual([{ CredentialProviderType: 'GATEWAY_IAM_ROLE' }]);
  });
});

describe('agents config: synth errors name the field and the fix', () => {
  const problemsOf = (context: Record<string, unknown>) => {
    try {
      loadConfig(context);
      return [];
    } catch (e) {
      if (!(e instanceof ConfigError)) throw e;
      return e.problems;
    }
  };

  test('the stacks agents build on', () => {
    expect(problemsOf({ 'stacks.agents': 'true', 'stacks.gateway': 'false' })).toEqual([
      "stacks.agents = true: agents run in the kit's VPC, call models through its gateway and build their image on the model store's Node.js base; enable stacks.gateway too.",
    ]);
  });

  test('every agent\'s model must be a routed alias', () => {
    expect(problemsOf({ 'stacks.agents': 'true', 'agents.supervisor.model': 'gpt-4o' })).toEqual([expect.stringMatching(/^agents\.supervisor\.model = "gpt-4o": names "gpt-4o", which no gateway route serves; use one of nova-micro, nova-lite, nova-pro.*/)]);
    expect(problemsOf({ 'stacks.agents': 'true', 'agents.supervisor.model': 'qwen2.5-1.5b-instruct' })).toEqual([]);
  });

  test('names unique across agents; the gateway takes IAM callers; vpc-only egress needs a PRIVATE gateway API; fargate certificates only with the certificate mode', () => {
    expect(problemsOf({ 'stacks.agents': 'true', 'agents.supervisor.name': 'writer' })).toEqual(['agents.supervisor.name = "writer": "writer" names two agents; give every agent its own name (it is the agent\'s identity at the gateway).']);
    expect(problemsOf({ 'stacks.agents': 'true', 'agents.egress': 'vpc-only' })).toEqual([expect.stringMatching(/^agents\.egress = "vpc-only": vpc-only cannot reach a REGIONAL gateway API.*set gateway\.endpointType to PRIVATE/)]);
    expect(problemsOf({ 'stacks.agents': 'true', 'agents.egress': 'vpc-only', 'gateway.endpointType': 'PRIVATE' })).toEqual([]);
    expect(problemsOf({ 'stacks.agents': 'true', 'gateway.authorization': 'API_KEY', 'gateway.icpLicence': '京ICP备12345678号' })).toEqual(['gateway.authorization = "API_KEY": must be IAM while stacks.agents is on: each agent calls the gateway as its own IAM role (SigV4), which an API_KEY gateway refuses.']);
    expect(problemsOf({ 'stacks.agents': 'true', 'agents.fargate.certificateArn': 'arn:aws-cn:acm:cn-northwest-1:111122223333:certificate/0a1b2c3d-0000-1111-2222-333344445555' })).toEqual([
      expect.stringMatching(/^agents\.fargate\.certificateArn = .*is used only with agents\.platform fargate and internalTls\.mode certificate/),
    ]);
  });

  test('platform and mode are closed sets with the fix in the message', () => {
    expect(problemsOf({ 'agents.platform': 'lambda' })).toEqual(['agents.platform = "lambda": must be agentcore-native, agentcore-api or fargate.']);
    expect(problemsOf({ 'agents.mode': 'swarm' })).toEqual(['agents.mode = "swarm": must be supervisor or routing.']);
  });
});
