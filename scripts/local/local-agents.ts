import { CreateTableCommand, DynamoDBClient, ResourceInUseException } from '@aws-sdk/client-dynamodb';
import { S3Client } from '@aws-sdk/client-s3';
import type { AwsCredentialIdentity } from '@smithy/types';
import { KitConfig } from '../../lib/config/schema';
import { agentCredentials } from '../../runtime/agents/agent-credentials';
import { AgentsConfig, parseAgentsConfig } from '../../runtime/agents/agents-config';
import { AgentTeam } from '../../runtime/agents/agent-team';
import { GatewayModels } from '../../runtime/agents/gateway-model';
import { startLocalMcpServer } from '../../runtime/agents/local-mcp-server';
import { GatewayTools } from '../../runtime/agents/mcp-tools';
import { DynamoSessionStorage, MEMORY_TABLE_KEY } from '../../runtime/agents/memory';
import { TraceLog } from '../../runtime/agents/trace';
import { docSearchHandler, TOOL_SCHEMAS as DOC_SEARCH_SCHEMAS } from '../../runtime/agents/tools/doc-search';
import { TOOL_SCHEMAS as USAGE_SCHEMAS, usageSummaryHandler } from '../../runtime/agents/tools/usage-summary';
import { startLocalGateway } from '../../runtime/local/local-gateway';
import { LocalIamCaller } from '../../runtime/local/sigv4-verifier';
import { localRouting } from './local-routes';

/** The provider route the local agents' model aliases take: the role-playing stand-in model. */
export const STAND_IN_PROVIDER = 'agents-stand-in';

/** The agents of the local run: a supervisor, a usage analyst with usage_summary, a librarian with doc_search. */
export function localAgentsConfig(mode: AgentsConfig['mode'], urls: { gateway: string; mcp?: string }, region: string, memory?: { tableName: string }): AgentsConfig {
  return parseAgentsConfig({
    mode,
    gateway: { baseUrl: `${urls.gateway}/v1`, auth: 'none', region },
    supervisor: { name: 'supervisor', model: 'local-supervisor', instructions: 'You answer questions about the team\'s use of the cn-llm-kit model gateway and its documentation.' },
    collaborators: [
      {
        name: 'analyst',
        model: 'local-analyst',
        description: 'Usage analyst: token use, requests and spend per team (group) and model, from the usage ledger.',
        instructions: 'You are the usage analyst. Look up token use with the usage_summary tool and report the figures that answer the question.',
        ...(urls.mcp && { tools: ['usage_summary'] }),
      },
      {
        name: 'librarian',
        model: 'local-librarian',
        description: 'Librarian: finds what the team documents say about residency, streaming, quotas and other how-to questions.',
        instructions: 'You are the librarian. Search the team documents with the doc_search tool and answer from the best matches, citing their titles.',
        ...(urls.mcp && { tools: ['doc_search'] }),
      },
    ],
    ...(urls.mcp && { tools: { mcpUrl: urls.mcp, auth: 'none' } }),
    ...(memory && { memory: { tableName: memory.tableName, ttlSeconds: 86400, maxTurns: 10 } }),
    timeouts: { agentSeconds: 30, overallSeconds: 90 },
  });
}

/** The kit config with one more provider: the stand-in model under every alias the agents use. */
export function withStandInModels(config: KitConfig, agents: AgentsConfig, standInUrl: string): KitConfig {
  const aliases = [...new Set([agents.supervisor.model, ...agents.collaborators.map((c) => c.model)])];
  const served = new Set([...config.bedrock.models.map((m) => m.alias), ...config.routing.providers.flatMap((p) => p.models.map((m) => m.alias))]);
  // Aliases the kit already routes (a Bedrock model, a provider) keep their route: residency and the rest apply to them as deployed.
  const standIn = aliases.filter((alias) => !served.has(alias));
  if (standIn.length === 0) return config;
  const provider = { name: STAND_IN_PROVIDER, baseUrl: `${standInUrl}/v1`, models: standIn.map((alias) => ({ alias, model: alias, kind: 'chat' as const })), crossBorder: false, timeoutSeconds: 300, maxAttempts: 1 };
  return { ...config, routing: { ...config.routing, providers: [...config.routing.providers, provider] } };
}

/** The session table as the stack creates it: key `sessionId` (string), on demand. */
export async function ensureSessionTable(client: DynamoDBClient, tableName: string): Promise<void> {
  try {
    await client.send(new CreateTableCommand({ TableName: tableName, AttributeDefinitions: [{ AttributeName: MEMORY_TABLE_KEY, AttributeType: 'S' }], KeySchema: [{ AttributeName: MEMORY_TABLE_KEY, KeyType: 'HASH' }], BillingMode: 'PAY_PER_REQUEST' }));
  } catch (e) {
    if (!(e instanceof ResourceInUseException)) throw e;
  }
}

export interface LocalAgentsOptions {
  /** The kit config (routing.residency, bedrock.models... apply to the agents' model calls). */
  readonly kitConfig: KitConfig;
  /** The kit CLI's routing flags (--bedrock-endpoint, --vllm...), as gateway:local takes them. */
  readonly routingArgs?: string[];
  readonly agents: (urls: { gateway: string; mcp?: string }) => AgentsConfig;
  /** The stand-in model's base URL (without /v1). */
  readonly standInUrl: string;
  /** The tools' bucket (usage ledger under ledger/, documents under docs/); without it the agents have no tools. */
  readonly tools?: { s3: S3Client; bucket: string };
  readonly memory?: { client: DynamoDBClient };
  /** The agents' trace lines. @default stdout */
  readonly log?: TraceLog;
  /** The gateway's request lines. @default stdout */
  readonly gatewayLog?: (line: Record<string, unknown>) => void;
  /**
   * The deployed auth: the gateway and the tool server require SigV4 from these callers (in
   * china.region), the agents sign with `credentials` (set `auth: sigv4` in the agents' config).
   * @default neither signs nor checks
   */
  readonly iam?: {
    readonly callers: readonly LocalIamCaller[];
    readonly credentials: AwsCredentialIdentity;
    /** Each agent assumes its role (with `credentials`) at this STS and calls the gateway as it, as deployed (CNLLM_AGENT_ROLE_ARNS). @default agents sign with `credentials` */
    readonly agentRoles?: { readonly roles: Readonly<Record<string, string>>; readonly stsEndpoint: string };
  };
}

export interface LocalAgents {
  readonly team: AgentTeam;
  readonly config: AgentsConfig;
  readonly gatewayUrl: string;
  readonly mcpUrl?: string;
  close(): Promise<void>;
}

/**
 * The agents as deployed, on one machine: the kit's gateway (gateway:local, in process, over HTTP
 * on loopback) in front of the stand-in model and whatever else the kit config routes, the tool
 * Lambdas behind a local MCP server, the session table in a DynamoDB stand-in.
 */
export async function startLocalAgents(options: LocalAgentsOptions): Promise<LocalAgents> {
  const closers: (() => Promise<unknown>)[] = [];
  try {
    // The agents' model aliases do not depend on where the servers listen: known before they start.
    const aliasesOnly = options.agents({ gateway: 'http://127.0.0.1:1', ...(options.tools && { mcp: 'http://127.0.0.1:1/mcp' }) });
    const kitConfig = withStandInModels(options.kitConfig, aliasesOnly, options.standInUrl);
    const routing = localRouting(kitConfig, options.routingArgs ?? [], process.env, options.gatewayLog);
    const iam = options.iam && { region: kitConfig.china.region, callers: options.iam.callers };
    const gateway = await startLocalGateway({ gateway: routing.gateway, port: 0, host: '127.0.0.1', mode: 'buffered', iam });
    closers.push(() => gateway.close());
    const mcp = options.tools
      ? await startLocalMcpServer([
          { name: 'usage-summary', schemas: USAGE_SCHEMAS, handler: usageSummaryHandler({ s3: options.tools.s3, bucket: options.tools.bucket, prefix: 'ledger/' }) },
          { name: 'doc-search', schemas: DOC_SEARCH_SCHEMAS, handler: docSearchHandler({ s3: options.tools.s3, bucket: options.tools.bucket, prefix: 'docs/' }) },
        ], { iam })
      : undefined;
    if (mcp) closers.push(() => mcp.close());
    const config = options.agents({ gateway: gateway.url, mcp: mcp?.url });
    if (config.memory && options.memory) await ensureSessionTable(options.memory.client, config.memory.tableName);
    const credentials = options.iam && (async () => options.iam!.credentials);
    const tools = config.tools ? new GatewayTools(config.tools, config.gateway.region, credentials) : undefined;
    if (tools) closers.unshift(() => tools.close());
    const roles = options.iam?.agentRoles;
    const agentCredentialsOf = roles && agentCredentials({ roles: roles.roles, region: config.gateway.region, runtimeCredentials: credentials, stsEndpoint: roles.stsEndpoint });
    const models = new GatewayModels({ gateway: config.gateway, timeoutMs: config.timeouts.agentSeconds * 1000, credentials, agentCredentials: agentCredentialsOf });
    const sessions = config.memory && options.memory ? new DynamoSessionStorage({ client: options.memory.client, tableName: config.memory.tableName, ttlSeconds: config.memory.ttlSeconds, maxTurns: config.memory.maxTurns }) : undefined;
    const team = new AgentTeam(config, { model: (alias, agent) => models.model(alias, agent), tools, sessions, log: options.log });
    return { team, config, gatewayUrl: gateway.url, mcpUrl: mcp?.url, close: () => closeAll(closers) };
  } catch (e) {
    await closeAll(closers);
    throw e;
  }
}

async function closeAll(closers: (() => Promise<unknown>)[]): Promise<void> {
  for (const close of closers) await close().catch(() => undefined);
}
