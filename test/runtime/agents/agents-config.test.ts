import { AGENTS_CONFIG_ENV, agentsConfigFromEnv, AgentsConfigError, collaboratorTimeoutMs, parseAgentsConfig } from '../../../runtime/agents/agents-config';

const valid = {
  mode: 'supervisor',
  gateway: { baseUrl: 'https://abc123.execute-api.cn-northwest-1.amazonaws.com.cn/prod/v1', auth: 'sigv4', region: 'cn-northwest-1' },
  supervisor: { name: 'supervisor', model: 'qwen-max', instructions: 'Answer questions about usage.' },
  collaborators: [
    { name: 'analyst', model: 'qwen-plus', description: 'Token use per team.', instructions: 'Use usage_summary.', tools: ['usage_summary'] },
    { name: 'librarian', model: 'nova-lite', description: 'Team documents.', instructions: 'Use doc_search.', timeoutSeconds: 20 },
  ],
  tools: { mcpUrl: 'https://gw-1.gateway.bedrock-agentcore.cn-northwest-1.amazonaws.com.cn/mcp', auth: 'sigv4' },
  memory: { tableName: 'cnllm-agent-sessions' },
};

const problems = (input: unknown) => {
  try {
    parseAgentsConfig(input);
  } catch (e) {
    expect(e).toBeInstanceOf(AgentsConfigError);
    return (e as AgentsConfigError).problems;
  }
  throw new Error('the configuration was accepted');
};

describe('agents configuration ($CNLLM_AGENTS_CONFIG)', () => {
  test('a valid configuration gets its documented defaults', () => {
    const config = parseAgentsConfig(valid);
    expect(config.timeouts).toEqual({ agentSeconds: 60, overallSeconds: 240 });
    expect(config.memory).toEqual({ tableName: 'cnllm-agent-sessions', ttlSeconds: 86400, maxTurns: 10 });
    expect(config.logContent).toBe(false);
    expect(collaboratorTimeoutMs(config, config.collaborators[0])).toBe(60000);
    expect(collaboratorTimeoutMs(config, config.collaborators[1])).toBe(20000);
  });

  test.each(
    (
      [
        [{ ...valid, mode: 'swarm' }, 'mode: must be "supervisor" or "routing"'],
        [{ ...valid, gateway: { ...valid.gateway, baseUrl: 'https://abc123.execute-api.cn-northwest-1.amazonaws.com.cn/prod' } }, 'gateway.baseUrl: must be an http(s) URL ending in /v1'],
        [{ ...valid, gateway: { ...valid.gateway, auth: 'iam' } }, 'gateway.auth: must be "sigv4" (the deployed API) or "none" (local)'],
        [{ ...valid, gateway: { ...valid.gateway, region: 'ningxia' } }, 'gateway.region: must be an AWS region, e.g. "cn-northwest-1"'],
        [{ ...valid, supervisor: { ...valid.supervisor, model: 'Qwen Max' } }, 'supervisor.model: must be a model alias of the kit\'s gateway, e.g. "nova-lite" or "qwen-max"'],
        [{ ...valid, collaborators: [] }, 'collaborators: needs at least one collaborator to delegate to'],
        [{ ...valid, collaborators: [{ ...valid.collaborators[0], name: 'usage analyst' }] }, 'collaborators[0].name: must be 1-64 letters, digits, "_" or "-", starting with a letter (it becomes a tool name), e.g. "researcher"'],
        [{ ...valid, collaborators: [{ ...valid.collaborators[0], name: 'supervisor' }] }, 'collaborators[0].name: "supervisor" is used by another agent: every agent needs its own name'],
        [{ ...valid, collaborators: [{ ...valid.collaborators[0], description: '' }] }, 'collaborators[0].description: must say what this collaborator is for: the supervisor chooses by it'],
        [{ ...valid, tools: undefined }, 'collaborators[0].tools: names tools but no tools.mcpUrl is configured: add tools or remove the list'],
        [{ ...valid, memory: { tableName: 'sessions', ttlSeconds: 10 } }, 'memory.ttlSeconds: must be at least 60 (how long a session is kept after its last turn)'],
        [{ ...valid, timeouts: { agentSeconds: 300, overallSeconds: 120 } }, 'timeouts.agentSeconds: is longer than timeouts.overallSeconds (120): raise overallSeconds or lower agentSeconds'],
        [{ ...valid, supervisor: { name: 'supervisor', model: 'qwen-max' } }, 'supervisor.instructions: is missing (expected string)'],
        [{ ...valid, agents: [] }, 'unknown key "agents": remove or check the spelling'],
      ] as [unknown, string][]
    ).map(([input, problem]) => [problem, input] as const),
  )('refused, naming the field and the fix: %s', (problem, input) => {
    expect(problems(input)).toContain(problem);
  });

  test('from the environment: unset and malformed JSON are named', () => {
    expect(() => agentsConfigFromEnv({})).toThrow(`${AGENTS_CONFIG_ENV} is not set`);
    expect(() => agentsConfigFromEnv({ [AGENTS_CONFIG_ENV]: '{"mode":' })).toThrow(/not valid JSON/);
    expect(agentsConfigFromEnv({ [AGENTS_CONFIG_ENV]: JSON.stringify(valid) }).mode).toBe('supervisor');
  });
});
