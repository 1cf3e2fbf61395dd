import * as fs from 'fs';
import Module from 'module';
import * as path from 'path';
import { Duration, Stack, Validations } from 'aws-cdk-lib';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as kms from 'aws-cdk-lib/aws-kms';
import { NodejsFunction, OutputFormat } from 'aws-cdk-lib/aws-lambda-nodejs';
import * as logs from 'aws-cdk-lib/aws-logs';
import { Construct } from 'constructs';
import type { ToolData } from '../../runtime/agents/tools/tool-lambda';
import type { ToolSchema } from './agentcore-spec';
import { EncryptedLogGroup } from './encrypted-log-group';
import { s3ViaService } from './usage-ledger';
import { nodeLambdaPlatform } from './lambda-platform';

/** Where the contract puts the tool Lambdas: `runtime/agents/tools/<name>.ts`, each exporting `handler` and `TOOL_SCHEMAS`. */
export const AGENT_TOOLS_DIR = path.join(__dirname, '..', '..', 'runtime', 'agents', 'tools');
const DATA_SOURCES: readonly ToolData['source'][] = ['usage-ledger', 'documents'];
const ENV_NAME = /^[A-Z][A-Z0-9_]*$/;

export interface ToolModule {
  /** The file name without `.ts`: the gateway target's name (tools appear to agents as `<name>___<tool>`). */
  readonly name: string;
  readonly entry: string;
  readonly schemas: readonly ToolSchema[];
  /** What the tool reads (its `TOOL_DATA`). @default nothing */
  readonly data?: ToolData;
}

/**
 * The tool modules of a directory: every `.ts` file (tests aside) that exports `handler` and a
 * non-empty `TOOL_SCHEMAS`; helpers shared by tools export neither and are skipped. The schemas
 * are read from the module itself, so the gateway advertises exactly what the code declares.
 */
export function discoverTools(dir: string = AGENT_TOOLS_DIR): ToolModule[] {
  if (!fs.existsSync(dir)) return [];
  return fs
    .readdirSync(dir)
    .filter((f) => f.endsWith('.ts') && !f.endsWith('.test.ts') && !f.endsWith('.d.ts'))
    .sort()
    .flatMap((file) => {
      const entry = path.join(dir, file);
      const mod = loadTypeScriptModule(entry) as { handler?: unknown; TOOL_SCHEMAS?: unknown; TOOL_DATA?: ToolData };
      if (typeof mod.handler !== 'function' || !Array.isArray(mod.TOOL_SCHEMAS) || mod.TOOL_SCHEMAS.length === 0) return [];
      const name = file.replace(/\.ts$/, '');
      if (!/^[a-z][a-z0-9-]{0,40}$/.test(name)) throw new Error(`agent tool ${entry}: the file name must be lower-case letters, digits or "-" (it becomes the gateway target's name)`);
      for (const schema of mod.TOOL_SCHEMAS as ToolSchema[]) {
        if (!schema || typeof schema.name !== 'string' || typeof schema.description !== 'string' || schema.inputSchema?.type !== 'object') {
          throw new Error(`agent tool ${entry}: every TOOL_SCHEMAS entry needs name, description and an inputSchema of type "object" (${JSON.stringify(schema)?.slice(0, 200)})`);
        }
      }
      const data = mod.TOOL_DATA;
      if (data !== undefined && (!DATA_SOURCES.includes(data.source) || !ENV_NAME.test(data.bucketEnv ?? '') || !ENV_NAME.test(data.prefixEnv ?? ''))) {
        throw new Error(`agent tool ${entry}: TOOL_DATA needs source (${DATA_SOURCES.join(' or ')}), bucketEnv and prefixEnv (environment variable names), got ${JSON.stringify(data)}`);
      }
      return [{ name, entry, schemas: mod.TOOL_SCHEMAS as ToolSchema[], ...(data && { data }) }];
    });
}

/**
 * Evaluates a TypeScript module the way its Lambda bundle will see it. A plain `require` of the
 * `.ts` file only works under ts-jest: `cdk synth` runs the app as an esbuild bundle on plain
 * Node, whose type stripping resolves the tool's extensionless relative imports as ES modules and
 * fails, so a CLI synth with `stacks.agents` would stop. esbuild is already needed by every
 * NodejsFunction of the kit; npm packages stay external and resolve from the module's directory.
 */
export function loadTypeScriptModule(entry: string): unknown {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const esbuild = require('esbuild') as typeof import('esbuild');
  const [bundle] = esbuild.buildSync({ entryPoints: [entry], bundle: true, platform: 'node', format: 'cjs', target: 'node20', packages: 'external', write: false, logLevel: 'silent' }).outputFiles;
  const loaded = new Module(entry) as Module & { _compile(code: string, filename: string): void };
  loaded.filename = entry;
  loaded.paths = (Module as unknown as { _nodeModulePaths(dir: string): string[] })._nodeModulePaths(path.dirname(entry));
  loaded._compile(bundle.text, entry);
  return loaded.exports;
}

export interface AgentToolFunctionsProps {
  readonly tools: readonly ToolModule[];
  readonly vpc: ec2.IVpc;
  readonly subnets: ec2.SubnetSelection;
  /** Where each data source a tool may declare lives: a tool reads its source's prefix, nothing else. */
  readonly sources: Readonly<Partial<Record<ToolData['source'], ToolDataLocation>>>;
  readonly key: kms.IKey;
  readonly runtime: string;
  readonly architecture: 'x86_64' | 'arm64';
  readonly timeout: Duration;
  readonly memoryMb: number;
  readonly logRetentionDays: number;
}

export interface ToolDataLocation {
  /** Fixed by config (lib/config/names.ts): literal ARNs a reviewer can read. */
  readonly bucketName: string;
  /** Ends in "/". */
  readonly prefix: string;
  /** The bucket's encryption key. */
  readonly key: kms.IKey;
  /** The config field (or construct) that decides the location, for the acknowledgement. */
  readonly decidedBy: string;
}

/** One Lambda per tool module, in the VPC, each reading only the prefix of the data source it declares. */
export class AgentToolFunctions extends Construct {
  public readonly functions: Readonly<Record<string, NodejsFunction>>;
  public readonly securityGroup: ec2.SecurityGroup;

  constructor(scope: Construct, id: string, props: AgentToolFunctionsProps) {
    super(scope, id);
    const stack = Stack.of(this);
    this.securityGroup = new ec2.SecurityGroup(this, 'SecurityGroup', { vpc: props.vpc, description: 'Agent tool Lambdas: HTTPS out only (S3 through its gateway endpoint, AWS APIs through interface endpoints)', allowAllOutbound: false });
    this.securityGroup.addEgressRule(ec2.Peer.anyIpv4(), ec2.Port.tcp(443), 'HTTPS to S3 (gateway endpoint) and AWS endpoints');
    const functions: Record<string, NodejsFunction> = {};
    for (const tool of props.tools) {
      const location = tool.data && props.sources[tool.data.source];
      const logGroup = new EncryptedLogGroup(this, `Logs-${tool.name}`, { retentionDays: props.logRetentionDays as logs.RetentionDays, purpose: `agent tool ${tool.name} logs`, retain: true, key: props.key }).logGroup;
      const role = new iam.Role(this, `Role-${tool.name}`, { assumedBy: new iam.ServicePrincipal('lambda.amazonaws.com'), description: `cn-llm-kit agent tool ${tool.name}` });
      role.addToPolicy(new iam.PolicyStatement({ actions: ['logs:CreateLogStream', 'logs:PutLogEvents'], resources: [logGroup.logGroupArn] }));
      role.addToPolicy(new iam.PolicyStatement({ actions: ['ec2:CreateNetworkInterface', 'ec2:DescribeNetworkInterfaces', 'ec2:DescribeSubnets', 'ec2:DeleteNetworkInterface', 'ec2:AssignPrivateIpAddresses', 'ec2:UnassignPrivateIpAddresses'], resources: ['*'] }));
      Validations.of(role).acknowledge({ id: 'AwsSolutions-IAM5[Resource::*]', reason: 'A Lambda in a VPC manages its network interfaces; EC2 supports no resource-level permissions for these Describe/Create ENI actions.' });
      if (tool.data && location) {
        const bucketArn = stack.formatArn({ service: 's3', region: '', account: '', resource: location.bucketName });
        role.addToPolicy(new iam.PolicyStatement({ actions: ['s3:GetObject'], resources: [`${bucketArn}/${location.prefix}*`] }));
        role.addToPolicy(new iam.PolicyStatement({ actions: ['s3:ListBucket'], resources: [bucketArn], conditions: { StringLike: { 's3:prefix': [`${location.prefix}*`] } } }));
        role.addToPolicy(new iam.PolicyStatement({ actions: ['kms:Decrypt'], resources: [location.key.keyArn], conditions: { StringEquals: { 'kms:ViaService': s3ViaService(stack.region) } } }));
        Validations.of(role).acknowledge({ id: `AwsSolutions-IAM5[Resource::arn:aws-cn:s3:::${location.bucketName}/${location.prefix}*]`, reason: `The tool reads the objects under ${location.prefix} of the bucket (${location.decidedBy}), nothing else.` });
      }
      functions[tool.name] = new NodejsFunction(this, `Function-${tool.name}`, {
        entry: tool.entry,
        handler: 'handler',
        ...nodeLambdaPlatform(props.runtime, props.architecture),
        timeout: props.timeout,
        memorySize: props.memoryMb,
        role,
        vpc: props.vpc,
        vpcSubnets: props.subnets,
        securityGroups: [this.securityGroup],
        logGroup,
        environmentEncryption: props.key,
        environment: { ...(tool.data && location && { [tool.data.bucketEnv]: location.bucketName, [tool.data.prefixEnv]: location.prefix }), NODE_OPTIONS: '--enable-source-maps' },
        description: `cn-llm-kit agent tool ${tool.name} (AgentCore Gateway target): ${tool.schemas.map((s) => s.name).join(', ')}`.slice(0, 256),
        bundling: { minify: true, sourceMap: true, format: OutputFormat.CJS, target: 'node20' },
      });
    }
    this.functions = functions;
  }
}
