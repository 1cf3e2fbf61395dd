/**
 * The container's entry (AgentCore Runtime): the configuration from $CNLLM_AGENTS_CONFIG, the
 * agents behind the runtime's HTTP contract on $PORT (8080).
 */
import { keyLookupClient } from '../server/api-keys';
import { StsPresignedAuthenticator } from '../server/sts-auth';
import { agentCredentials, agentRolesFromEnv } from './agent-credentials';
import { agentsConfigFromEnv } from './agents-config';
import { AgentTeam } from './agent-team';
import { GatewayModels } from './gateway-model';
import { GatewayTools } from './mcp-tools';
import { DynamoSessionStorage } from './memory';
import { startAgentServer } from './server';
import { stdoutLog } from './trace';

async function main(): Promise<void> {
  const config = agentsConfigFromEnv();
  const region = process.env.AWS_REGION ?? config.gateway.region;
  const tools = config.tools ? new GatewayTools(config.tools, config.gateway.region) : undefined;
  // Deployed, each agent calls the gateway as its own role (the gateway meters and limits per caller); locally, as the runtime.
  const roles = agentRolesFromEnv();
  const credentialsOf = roles && agentCredentials({ roles, region });
  // An agent without a role fails the start, not its first invocation.
  if (credentialsOf) [config.supervisor.name, ...config.collaborators.map((c) => c.name)].forEach((agent) => credentialsOf(agent));
  const models = new GatewayModels({ gateway: config.gateway, timeoutMs: config.timeouts.agentSeconds * 1000, agentCredentials: credentialsOf });
  const team = new AgentTeam(config, {
    model: (alias, agent) => models.model(alias, agent),
    tools,
    // Bounded DynamoDB calls (the streaming door's client): a slow table fails the turn in seconds, not at the deadline.
    sessions: config.memory && new DynamoSessionStorage({ client: keyLookupClient({ region }, 5000), tableName: config.memory.tableName, ttlSeconds: config.memory.ttlSeconds, maxTurns: config.memory.maxTurns }),
  });
  // On Fargate the load balancer passes anyone in the VPC: the caller proves its China identity with an STS token.
  const callerAuth = config.callerAuth && new StsPresignedAuthenticator({ allowedEndpoints: config.callerAuth.stsEndpoints.map((e) => new URL(e).origin), audience: config.callerAuth.audience, allowedAccounts: config.callerAuth.allowedAccounts });
  const server = await startAgentServer({ team, port: Number(process.env.PORT ?? 8080), authenticate: callerAuth && ((bearer) => callerAuth.authenticate(bearer)) });
  stdoutLog({ level: 'info', msg: 'listening', url: server.url, mode: config.mode, agents: [config.supervisor.name, ...config.collaborators.map((c) => c.name)], tools: Boolean(config.tools), memory: Boolean(config.memory), callerAuth: Boolean(config.callerAuth) });
  const stop = () => {
    // Invocations under way may take up to the overall deadline to answer.
    void server
      .drain(config.timeouts.overallSeconds * 1000)
      .then(() => tools?.close())
      .then(() => process.exit(0));
  };
  process.once('SIGTERM', stop);
  process.once('SIGINT', stop);
}

main().catch((e: unknown) => {
  stdoutLog({ level: 'error', msg: 'failed to start', error: (e as Error).message });
  process.exit(1);
});
