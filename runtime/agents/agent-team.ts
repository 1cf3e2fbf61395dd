import { Agent, AgentResult, Model, SessionManager, SnapshotStorage, Tool } from '@strands-agents/sdk';
import { APIConnectionError, APIConnectionTimeoutError, APIError } from 'openai';
import { AgentsConfig, collaboratorTimeoutMs } from './agents-config';
import { sessionKey } from './memory';
import { bareToolName, toolsFor } from './mcp-tools';
import { supervisorPrompt } from './prompts';
import { limitToolTime } from './time-limits';
import { clip, InvocationTrace, stdoutLog, traceAgent, TraceEvent, TraceLog } from './trace';

export interface AgentTeamDeps {
  /** A gateway alias and the agent that calls it -> the agent's model (GatewayModels in the server). */
  readonly model: (alias: string, agent: string) => Model;
  /** The MCP gateway's tools. @default no tools */
  readonly tools?: { all(): Promise<Tool[]> };
  /** Where sessions are kept. @default none: each invocation stands alone */
  readonly sessions?: SnapshotStorage;
  /** @default one JSON line per trace event on stdout */
  readonly log?: TraceLog;
  readonly now?: () => number;
}

export interface InvocationRequest {
  readonly prompt: string;
  readonly sessionId: string;
  readonly requestId: string;
}

export type InvocationOutcome =
  | { readonly ok: true; readonly answer: string; readonly sessionId: string; readonly trace: TraceEvent[] }
  /**
   * The supervisor itself failed or the deadline passed: no answer, the trace so far. `retryAfter`:
   * the gateway's Retry-After when it throttled or was unavailable (the caller should retry then).
   */
  | { readonly ok: false; readonly status: number; readonly code: string; readonly message: string; readonly retryAfter?: string; readonly sessionId: string; readonly trace: TraceEvent[] };

/**
 * The agents of one deployment: a supervisor (or router) whose tools are its collaborators, each a
 * Strands agent on a gateway model alias, the collaborators with the MCP gateway's tools. Agents are
 * built per invocation (a Strands agent runs one invocation at a time; the server takes many).
 */
export class AgentTeam {
  private readonly log: TraceLog;
  private readonly now: () => number;

  constructor(
    private readonly config: AgentsConfig,
    private readonly deps: AgentTeamDeps,
  ) {
    this.log = deps.log ?? stdoutLog;
    this.now = deps.now ?? Date.now;
  }

  async invoke(request: InvocationRequest): Promise<InvocationOutcome> {
    const { config } = this;
    const trace = new InvocationTrace({ requestId: request.requestId, sessionId: request.sessionId, logContent: config.logContent, log: this.log }, this.now);
    const supervisorName = config.supervisor.name;
    const agentMs = config.timeouts.agentSeconds * 1000;
    const tools = await this.gatewayTools(trace, agentMs);

    const collaboratorNames = new Set(config.collaborators.map((c) => c.name));
    const collaborators = new Map(
      config.collaborators.map((c) => {
        const allowed = toolsFor(c, tools);
        // A tool the configuration names but the gateway does not offer (a target not deployed, a typo) is said, not silently missing.
        const missing = tools.length > 0 ? (c.tools ?? []).filter((name) => !allowed.some((t) => t.name === name || bareToolName(t.name) === name)) : [];
        if (missing.length > 0) trace.add({ agent: c.name, event: 'error', tool: missing.join(', '), ms: 0, detail: `the MCP gateway offers no tool ${missing.join(', ')}; it offers ${tools.map((t) => t.name).join(', ')}` });
        const agent = new Agent({ name: c.name, id: c.name, description: c.description, systemPrompt: c.instructions, model: this.deps.model(c.model, c.name), tools: allowed, printer: false, retryStrategy: NO_MODEL_RETRIES });
        limitToolTime(agent, () => ({ ms: agentMs }));
        return [c.name, { agent, config: c }] as const;
      }),
    );
    for (const { agent } of collaborators.values()) traceAgent(agent, trace, new Set(), this.now);

    const supervisor = new Agent({
      name: supervisorName,
      id: supervisorName,
      systemPrompt: supervisorPrompt(config),
      model: this.deps.model(config.supervisor.model, supervisorName),
      // Routing hands the request to one collaborator whose answer ends the turn: Strands' delegate tools.
      tools: [...collaborators.values()].map(({ agent, config: c }) => agent.asTool({ name: c.name, description: c.description, delegate: config.mode === 'routing' })),
      printer: false,
      retryStrategy: NO_MODEL_RETRIES,
      ...(this.deps.sessions && { sessionManager: new SessionManager({ sessionId: sessionKey(request.sessionId), storage: { snapshot: this.deps.sessions }, saveLatestOn: 'invocation' }) }),
    });
    limitToolTime(supervisor, (toolName) => {
      const collaborator = collaborators.get(toolName);
      return collaborator ? { ms: collaboratorTimeoutMs(config, collaborator.config), onTimeout: () => collaborator.agent.cancel() } : { ms: agentMs };
    });
    traceAgent(supervisor, trace, collaboratorNames, this.now);

    const cancelAll = () => {
      supervisor.cancel();
      for (const { agent } of collaborators.values()) agent.cancel();
    };
    const overallMs = config.timeouts.overallSeconds * 1000;
    let deadline: NodeJS.Timeout | undefined;
    const overrun = new Promise<'overrun'>((resolve) => {
      deadline = setTimeout(() => resolve('overrun'), overallMs);
    });
    const started = this.now();
    try {
      const result = await Promise.race([supervisor.invoke(request.prompt), overrun]);
      if (result === 'overrun') {
        cancelAll();
        const message = `the agents did not finish within timeouts.overallSeconds (${config.timeouts.overallSeconds} s)`;
        trace.add({ agent: supervisorName, event: 'error', ...trace.usageOf(supervisorName), ms: this.now() - started, detail: message });
        return { ok: false, status: 504, code: 'deadline_exceeded', message, sessionId: request.sessionId, trace: trace.events };
      }
      if (result.stopReason === 'cancelled') throw new Error('the invocation was cancelled');
      return { ok: true, answer: withFailuresNoted(answerOf(result), trace.events, collaboratorNames), sessionId: request.sessionId, trace: trace.events };
    } catch (e) {
      const failure = describeFailure(e);
      trace.add({ agent: supervisorName, event: 'error', ...trace.usageOf(supervisorName), ms: this.now() - started, detail: clip(failure.message) });
      return { ok: false, status: failure.status, code: failure.code, message: `${supervisorName} failed: ${failure.message}`, ...(failure.retryAfter && { retryAfter: failure.retryAfter }), sessionId: request.sessionId, trace: trace.events };
    } finally {
      clearTimeout(deadline);
    }
  }

  /**
   * The tools, or none (noted in the trace) when the MCP gateway cannot list them within `limitMs`
   * (one agent's time; the MCP client's own limit is a minute per request): the agents answer without.
   */
  private async gatewayTools(trace: InvocationTrace, limitMs: number): Promise<Tool[]> {
    if (!this.deps.tools) return [];
    const started = this.now();
    let timer: NodeJS.Timeout | undefined;
    const overrun = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`the MCP gateway did not list its tools within timeouts.agentSeconds (${limitMs / 1000} s)`)), limitMs);
    });
    try {
      return await Promise.race([this.deps.tools.all(), overrun]);
    } catch (e) {
      trace.add({ agent: this.config.supervisor.name, event: 'error', ms: this.now() - started, detail: clip(`the MCP tools could not be listed, the agents answer without them: ${describeFailure(e).message}`) });
      return [];
    } finally {
      clearTimeout(timer);
    }
  }
}

/**
 * No retries of model calls inside the agents: the gateway already retried what was safe (with
 * fallbacks) before it answered, and Strands' default (throttles, 6 attempts from 4 s backoff) would
 * outlast the agents' time limits and end every throttled invocation in a 504 instead of the 429.
 */
const NO_MODEL_RETRIES = null;

function answerOf(result: AgentResult): string {
  return result.toString().trim();
}

/**
 * The answer, with a line for each collaborator that failed and that the supervisor's model left
 * unmentioned: a caller reading only the answer still learns that part of the work is missing.
 */
export function withFailuresNoted(answer: string, trace: readonly TraceEvent[], collaborators: ReadonlySet<string>): string {
  const failed = new Map<string, string>();
  for (const e of trace) if (e.event === 'error' && !e.tool && collaborators.has(e.agent) && !failed.has(e.agent)) failed.set(e.agent, e.detail ?? 'failed');
  const unmentioned = [...failed].filter(([agent]) => !answer.includes(agent));
  return unmentioned.length === 0 ? answer : `${answer}\n\n${unmentioned.map(([agent, detail]) => `(${agent} failed: ${detail})`).join('\n')}`;
}

/**
 * What went wrong, with the gateway's error code when the failure was its answer (an OpenAI-style
 * error; Strands wraps model failures in a ModelError whose cause is the client's error). The status
 * is the gateway's when it throttled (429) or was unavailable (503), with its Retry-After: the caller
 * should retry those; a timeout is 504; anything else 502.
 */
export function describeFailure(e: unknown): { status: number; code: string; message: string; retryAfter?: string } {
  type Failure = { code?: unknown; error?: { code?: unknown }; message?: string; name?: string; cause?: unknown };
  let code = 'agent_error';
  let status = 502;
  let retryAfter: string | undefined;
  for (let error = e as Failure | undefined, depth = 0; error && typeof error === 'object' && depth < 5; error = error.cause as Failure | undefined, depth++) {
    // Before the codes: a connection failure's cause carries the socket's code (UND_ERR_SOCKET), not one a caller can act on.
    if (error instanceof APIConnectionTimeoutError) {
      [code, status] = ['timeout', 504];
      break;
    }
    if (error instanceof APIConnectionError) {
      code = 'gateway_connection';
      break;
    }
    if (error instanceof APIError && (error.status === 429 || error.status === 503)) {
      status = error.status;
      retryAfter = error.headers?.get('retry-after') ?? undefined;
    }
    const found = typeof error.code === 'string' ? error.code : typeof error.error?.code === 'string' ? error.error.code : undefined;
    if (found) {
      code = found;
      break;
    }
  }
  let message = (e as Failure | undefined)?.message ?? String(e);
  // The OpenAI client reports any failure before a response (DNS, refused connection, credentials that
  // could not be obtained from STS) as "Connection error."; the reason is in its cause.
  for (let error = e as Failure | undefined, depth = 0; error && typeof error === 'object' && depth < 5; error = error.cause as Failure | undefined, depth++) {
    const cause = error.cause as Failure | undefined;
    if (error instanceof APIConnectionError && cause?.message) {
      message = `${message} (${cause.message})`;
      break;
    }
  }
  return { status, code, message, ...(retryAfter && { retryAfter }) };
}
