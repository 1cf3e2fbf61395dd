import { fromTemporaryCredentials } from '@aws-sdk/credential-providers';
import type { AwsCredentialIdentity, AwsCredentialIdentityProvider } from '@smithy/types';

/** `{ "<agent name>": "<role ARN>" }`: the role each agent assumes to call the gateway (the stack sets it beside CNLLM_AGENTS_CONFIG). */
export const AGENT_ROLES_ENV = 'CNLLM_AGENT_ROLE_ARNS';

const ROLE_ARN = /^arn:aws(-cn)?:iam::\d{12}:role\/[\w+=,.@/-]+$/;
/** Credentials are renewed this long before they expire, so no request is signed with ones about to lapse. */
const REFRESH_BEFORE_EXPIRY_MS = 5 * 60 * 1000;
/** AssumeRole's session: an hour, the most a role chain allows. */
const SESSION_SECONDS = 3600;

/** The agents' roles from the environment; absent (a local run) means every agent signs as the runtime. */
export function agentRolesFromEnv(env: NodeJS.ProcessEnv = process.env): Record<string, string> | undefined {
  const raw = env[AGENT_ROLES_ENV];
  if (!raw) return undefined;
  let parsed: unknown;
  try {
    parsed = JSON.parse(raw);
  } catch (e) {
    throw new Error(`${AGENT_ROLES_ENV} is not valid JSON (${(e as Error).message}): the stack sets it to {"<agent>": "<role ARN>"}`);
  }
  if (!parsed || typeof parsed !== 'object' || Array.isArray(parsed)) throw new Error(`${AGENT_ROLES_ENV} must be a JSON object {"<agent>": "<role ARN>"}`);
  for (const [agent, arn] of Object.entries(parsed)) {
    if (typeof arn !== 'string' || !ROLE_ARN.test(arn)) throw new Error(`${AGENT_ROLES_ENV}.${agent} must be an IAM role ARN, got ${JSON.stringify(arn)}`);
  }
  return parsed as Record<string, string>;
}

/** The regional STS endpoint: in China the global endpoint does not exist, and regional STS keeps the call in the region. */
export function regionalStsEndpoint(region: string): string {
  return `https://sts.${region}.amazonaws.com${region.startsWith('cn-') ? '.cn' : ''}`;
}

export interface AgentCredentialsOptions {
  /** Agent name -> the role it calls the gateway as. */
  readonly roles: Readonly<Record<string, string>>;
  readonly region: string;
  /** The runtime's own credentials, which assume the roles. @default the SDK's default chain */
  readonly runtimeCredentials?: AwsCredentialIdentityProvider;
  /** @default regionalStsEndpoint(region) */
  readonly stsEndpoint?: string;
  readonly now?: () => number;
}

/**
 * Each agent's credentials: its role assumed with the runtime's credentials (session name = agent),
 * kept until five minutes before they expire. An agent without a role in the map is refused rather
 * than signed as the runtime: the runtime role may not call the gateway, and a silent fallback would
 * meter the agent as someone else.
 */
export function agentCredentials(options: AgentCredentialsOptions): (agent: string) => AwsCredentialIdentityProvider {
  const providers = new Map<string, AwsCredentialIdentityProvider>();
  const endpoint = options.stsEndpoint ?? regionalStsEndpoint(options.region);
  return (agent) => {
    const roleArn = options.roles[agent];
    if (!roleArn) throw new Error(`${AGENT_ROLES_ENV} has no role for agent "${agent}" (it has ${Object.keys(options.roles).join(', ') || 'none'}): redeploy the Agents stack with this agent`);
    let provider = providers.get(agent);
    if (!provider) {
      provider = cached(
        fromTemporaryCredentials({
          params: { RoleArn: roleArn, RoleSessionName: agent.slice(0, 64), DurationSeconds: SESSION_SECONDS },
          ...(options.runtimeCredentials && { masterCredentials: options.runtimeCredentials }),
          clientConfig: { region: options.region, endpoint },
        }),
        options.now ?? Date.now,
      );
      providers.set(agent, provider);
    }
    return provider;
  };
}

/** One STS call per role per session: concurrent requests share the call in flight; a failed one is not kept. */
function cached(provider: AwsCredentialIdentityProvider, now: () => number): AwsCredentialIdentityProvider {
  let current: Promise<AwsCredentialIdentity> | undefined;
  let expiresAt = 0;
  return () => {
    if (!current || now() >= expiresAt - REFRESH_BEFORE_EXPIRY_MS) {
      const call = provider().then(
        (credentials) => {
          expiresAt = credentials.expiration?.getTime() ?? Infinity;
          return credentials;
        },
        (e: unknown) => {
          if (current === call) current = undefined;
          throw e;
        },
      );
      current = call;
      expiresAt = Infinity;
    }
    return current;
  };
}
