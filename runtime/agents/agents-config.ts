import { z } from 'zod';

/** The agent server's settings (no secrets): one JSON document the stack passes in the environment. */
export const AGENTS_CONFIG_ENV = 'CNLLM_AGENTS_CONFIG';

/** What OpenAI-compatible APIs accept as a function (tool) name: every agent is offered to another as one. */
const agentName = z.string().regex(/^[a-zA-Z][a-zA-Z0-9_-]{0,63}$/, { error: 'must be 1-64 letters, digits, "_" or "-", starting with a letter (it becomes a tool name), e.g. "researcher"' });
/** A gateway model alias, as in bedrock.models / routing.providers[].models[].alias. */
const modelAlias = z.string().regex(/^[a-z0-9][a-z0-9._-]{0,62}$/, { error: 'must be a model alias of the kit\'s gateway, e.g. "nova-lite" or "qwen-max"' });
const instructions = z.string().min(1, { error: 'must say what the agent does (its system prompt)' }).max(20000, { error: 'must be at most 20000 characters' });
const region = z.string().regex(/^[a-z]{2}(-[a-z]+)+-\d$/, { error: 'must be an AWS region, e.g. "cn-northwest-1"' });
const seconds = (min: number, max: number, what: string) => z.number({ error: `must be a number of seconds (${what})` }).int().min(min, { error: `must be at least ${min} (${what})` }).max(max, { error: `must be at most ${max} (${what})` });

const collaboratorSchema = z
  .object({
    name: agentName,
    model: modelAlias,
    /** What the supervisor (or router) reads to choose this collaborator: say what it is good at. */
    description: z.string().min(1, { error: 'must say what this collaborator is for: the supervisor chooses by it' }).max(1000),
    instructions,
    /**
     * MCP tools this collaborator may call, by name (`doc_search` or the gateway's `<target>___<tool>`).
     * @default every tool the MCP gateway lists
     */
    tools: z.array(z.string().min(1)).optional(),
    /** Longest run of this collaborator per delegation (its model calls and tool calls). @default timeouts.agentSeconds */
    timeoutSeconds: seconds(1, 900, 'one delegation to this collaborator').optional(),
  })
  .strict();

export const AgentsConfigSchema = z
  .object({
    /**
     * supervisor: plans, delegates to any collaborators (exposed as tools), synthesizes the answer.
     * routing: classifies the request and hands it to exactly one collaborator, whose answer is returned.
     */
    mode: z.enum(['supervisor', 'routing'], { error: 'must be "supervisor" or "routing"' }),
    gateway: z
      .object({
        /** The kit gateway's OpenAI-compatible base URL up to /v1 (the REST API's OpenAiBaseUrl output, or gateway:local). */
        baseUrl: z
          .string()
          .url({ error: 'must be the gateway\'s OpenAI base URL, e.g. "https://<api-id>.execute-api.cn-northwest-1.amazonaws.com.cn/prod/v1"' })
          .refine((url) => /^https?:\/\//.test(url) && /\/v1\/?$/.test(url), { error: 'must be an http(s) URL ending in /v1' }),
        /** sigv4: sign every request (execute-api) with the task role, as the IAM-authorized API requires; none: loopback runs. */
        auth: z.enum(['sigv4', 'none'], { error: 'must be "sigv4" (the deployed API) or "none" (local)' }),
        region,
      })
      .strict(),
    supervisor: z.object({ name: agentName, model: modelAlias, instructions }).strict(),
    collaborators: z.array(collaboratorSchema).min(1, { error: 'needs at least one collaborator to delegate to' }).max(20, { error: 'at most 20 collaborators (each is a tool in every supervisor request)' }),
    /** AgentCore Gateway (MCP, streamable HTTP) whose tools the collaborators may call. @default no tools */
    tools: z
      .object({
        mcpUrl: z.string().url({ error: 'must be the AgentCore Gateway MCP URL, e.g. "https://<gateway-id>.gateway.bedrock-agentcore.cn-northwest-1.amazonaws.com.cn/mcp"' }),
        /** sigv4: sign requests (service bedrock-agentcore) as the gateway's IAM inbound auth requires. */
        auth: z.enum(['sigv4', 'none'], { error: 'must be "sigv4" (AgentCore Gateway with IAM auth) or "none" (local)' }),
        /** @default gateway.region */
        region: region.optional(),
      })
      .strict()
      .optional(),
    /** Conversation memory in DynamoDB (AgentCore Memory is not offered in China). @default no memory: every request stands alone */
    memory: z
      .object({
        tableName: z.string().regex(/^[a-zA-Z0-9_.-]{3,255}$/, { error: 'must be a DynamoDB table name' }),
        /** A session is forgotten this long after its last turn (DynamoDB TTL). @default 86400 */
        ttlSeconds: seconds(60, 31536000, 'how long a session is kept after its last turn').default(86400),
        /** Turns (a prompt and its answer, with the delegations between) kept per session; older ones are dropped. @default 10 */
        maxTurns: z.number().int().min(1).max(100).default(10),
      })
      .strict()
      .optional(),
    timeouts: z
      .object({
        /** Longest run of one agent: each model call, and each delegation to a collaborator or tool call. @default 60 */
        agentSeconds: seconds(1, 900, 'one agent\'s run').default(60),
        /** Longest whole invocation; past it the caller gets 504 with the trace so far. @default 240 */
        overallSeconds: seconds(1, 3600, 'the whole invocation').default(240),
      })
      .strict()
      .prefault({}),
    /**
     * Callers must present an STS bearer token (presigned GetCallerIdentity with this audience signed in:
     * `npm run agents -- invoke --url`), as on Fargate behind the load balancer. On AgentCore Runtime the
     * service authenticates callers (SigV4 to InvokeAgentRuntime) and this is absent.
     * @default no check
     */
    callerAuth: z
      .object({
        audience: z.string().min(1, { error: 'must name the audience the tokens are made for, e.g. "cnllm-agents"' }),
        /** Accounts whose principals may invoke the agents. */
        allowedAccounts: z.array(z.string().regex(/^\d{12}$/, { error: 'must be 12-digit AWS account ids' })).min(1, { error: 'must list at least one account (the China account)' }),
        /** STS origins a token may point at (no others are asked: no SSRF), e.g. "https://sts.cn-northwest-1.amazonaws.com.cn". */
        stsEndpoints: z.array(z.string().url({ error: 'must be STS endpoint URLs' })).min(1, { error: 'must list the region\'s STS endpoint' }),
      })
      .strict()
      .optional(),
    /** Log prompts, delegated inputs and answers in the trace lines (they are customer content). @default false */
    logContent: z.boolean().default(false),
  })
  .strict()
  .superRefine((config, ctx) => {
    const names = [config.supervisor.name, ...config.collaborators.map((c) => c.name)];
    names.forEach((name, i) => {
      if (names.indexOf(name) !== i) ctx.addIssue({ code: 'custom', path: i === 0 ? ['supervisor', 'name'] : ['collaborators', i - 1, 'name'], message: `"${name}" is used by another agent: every agent needs its own name` });
    });
    if (config.timeouts.agentSeconds > config.timeouts.overallSeconds) {
      ctx.addIssue({ code: 'custom', path: ['timeouts', 'agentSeconds'], message: `is longer than timeouts.overallSeconds (${config.timeouts.overallSeconds}): raise overallSeconds or lower agentSeconds` });
    }
    config.collaborators.forEach((c, i) => {
      if (c.tools && c.tools.length > 0 && !config.tools) ctx.addIssue({ code: 'custom', path: ['collaborators', i, 'tools'], message: 'names tools but no tools.mcpUrl is configured: add tools or remove the list' });
    });
  });

export type AgentsConfig = z.output<typeof AgentsConfigSchema>;
export type CollaboratorConfig = AgentsConfig['collaborators'][number];

export class AgentsConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(`${AGENTS_CONFIG_ENV} is invalid (${problems.length} problem${problems.length === 1 ? '' : 's'}):\n${problems.map((p) => `  - ${p}`).join('\n')}`);
    this.name = 'AgentsConfigError';
  }
}

/** Validates the configuration, naming every bad field and what it must be. */
export function parseAgentsConfig(input: unknown): AgentsConfig {
  const result = AgentsConfigSchema.safeParse(input);
  if (result.success) return result.data;
  throw new AgentsConfigError(
    result.error.issues.map((issue) => {
      const field = issue.path.length > 0 ? issue.path.map((p, i) => (typeof p === 'number' ? `[${p}]` : `${i > 0 ? '.' : ''}${String(p)}`)).join('') : '(root)';
      if (issue.code === 'unrecognized_keys') return `${field === '(root)' ? '' : `${field}: `}unknown key${issue.keys.length > 1 ? 's' : ''} ${issue.keys.map((k) => `"${k}"`).join(', ')}: remove or check the spelling`;
      return `${field}: ${issue.message.replace(/^Invalid input: expected (\w+), received undefined$/, 'is missing (expected $1)')}`;
    }),
  );
}

/** Reads and validates $CNLLM_AGENTS_CONFIG. */
export function agentsConfigFromEnv(env: NodeJS.ProcessEnv = process.env): AgentsConfig {
  const raw = env[AGENTS_CONFIG_ENV];
  if (!raw) throw new AgentsConfigError([`${AGENTS_CONFIG_ENV} is not set: the stack passes the agents' configuration as JSON in it`]);
  let parsed: unknown;
  try {
    parsed = JSON.parse(raw);
  } catch (e) {
    throw new AgentsConfigError([`not valid JSON (${(e as Error).message})`]);
  }
  return parseAgentsConfig(parsed);
}

/** The collaborator's time budget per delegation. */
export function collaboratorTimeoutMs(config: AgentsConfig, collaborator: CollaboratorConfig): number {
  return (collaborator.timeoutSeconds ?? config.timeouts.agentSeconds) * 1000;
}
