import { AfterToolCallEvent, Agent, AgentResultEvent, BeforeInvocationEvent, BeforeToolCallEvent, ModelStreamUpdateEvent, ToolResultBlock } from '@strands-agents/sdk';

/** One step of an invocation, as returned in /invocations' `trace` and logged as one JSON line. */
export interface TraceEvent {
  agent: string;
  event: 'delegate' | 'tool' | 'answer' | 'error';
  /** delegate: the collaborator handed the work. */
  to?: string;
  /** tool: the MCP tool called. */
  tool?: string;
  /** Tokens of this agent's model calls (from the gateway's `usage`), on its answer or failure. */
  inputTokens?: number;
  outputTokens?: number;
  /** How long the step took. */
  ms: number;
  /** What was delegated, the tool's input, the answer, or what went wrong. */
  detail?: string;
}

export interface TraceStep {
  /** Ends the step (amending it), logs it and returns how long it took. */
  end(amend?: Partial<TraceEvent>): number;
}

export type TraceLog = (line: Record<string, unknown>) => void;

const DETAIL_CHARS = 1000;

/** Log lines on stdout, one JSON object each (CloudWatch Logs in AgentCore Runtime). */
export const stdoutLog: TraceLog = (line) => process.stdout.write(`${JSON.stringify(line)}\n`);

/**
 * The trace of one invocation. Steps are listed in the order they started (a delegation before the
 * collaborator's own steps) and logged when they end.
 */
export class InvocationTrace {
  readonly events: TraceEvent[] = [];
  private readonly usage = new Map<string, { inputTokens: number; outputTokens: number }>();

  constructor(
    private readonly context: { requestId: string; sessionId: string; logContent: boolean; log: TraceLog },
    private readonly now: () => number = Date.now,
  ) {}

  /** A step that has begun; its `end` records how long it took, logs it and may amend it. */
  begin(event: Omit<TraceEvent, 'ms'>): TraceStep {
    const started = this.now();
    const entry: TraceEvent = { ...event, ms: 0 };
    this.events.push(entry);
    return {
      end: (amend = {}) => {
        Object.assign(entry, amend, { ms: this.now() - started });
        this.log(entry);
        return entry.ms;
      },
    };
  }

  /** A step that is over already. */
  add(event: TraceEvent): void {
    this.events.push(event);
    this.log(event);
  }

  /** Adds an agent's model usage (it may call its model several times in one invocation). */
  addUsage(agent: string, inputTokens: number, outputTokens: number): void {
    const sum = this.usageOf(agent);
    this.usage.set(agent, { inputTokens: sum.inputTokens + inputTokens, outputTokens: sum.outputTokens + outputTokens });
  }

  usageOf(agent: string): { inputTokens: number; outputTokens: number } {
    return this.usage.get(agent) ?? { inputTokens: 0, outputTokens: 0 };
  }

  private log(event: TraceEvent): void {
    // Prompts, delegated work and answers are customer content: logged only when asked; what failed always is.
    const { detail, ...rest } = event;
    const keepDetail = detail !== undefined && (this.context.logContent || event.event === 'error');
    this.context.log({ level: event.event === 'error' ? 'error' : 'info', msg: 'agent_trace', requestId: this.context.requestId, sessionId: this.context.sessionId, ...rest, ...(keepDetail && { detail }) });
  }
}

export function clip(text: string): string {
  return text.length > DETAIL_CHARS ? `${text.slice(0, DETAIL_CHARS - 1)}…` : text;
}

export function resultText(result: ToolResultBlock): string {
  return result.content.map((block) => ('text' in block ? block.text : 'json' in block ? JSON.stringify(block.json) : '')).join('');
}

/**
 * Records an agent's steps through Strands' hooks: delegations to the collaborators named (their
 * tools), MCP tool calls, its answer, and its model usage.
 */
export function traceAgent(agent: Agent, trace: InvocationTrace, collaborators: ReadonlySet<string>, now: () => number = Date.now): void {
  const name = agent.name;
  let started = now();
  const steps = new Map<string, TraceStep>();
  // A delegate's events (routing mode) are surfaced in its parent's stream and reach the parent's hooks
  // too: each agent records only what it did itself (its own hooks record the delegate's).
  const own = (event: { agent: unknown }) => event.agent === agent;
  agent.addHook(BeforeInvocationEvent, (event) => {
    if (own(event)) started = now();
  });
  agent.addHook(ModelStreamUpdateEvent, (event) => {
    if (own(event) && event.event.type === 'modelMetadataEvent' && event.event.usage) trace.addUsage(name, event.event.usage.inputTokens, event.event.usage.outputTokens);
  });
  agent.addHook(BeforeToolCallEvent, (event) => {
    if (!own(event)) return;
    const delegated = collaborators.has(event.toolUse.name);
    const input = event.toolUse.input as { input?: unknown };
    steps.set(
      event.toolUse.toolUseId,
      trace.begin(
        delegated
          ? { agent: name, event: 'delegate', to: event.toolUse.name, detail: clip(String(input?.input ?? '')) }
          : { agent: name, event: 'tool', tool: event.toolUse.name, detail: clip(JSON.stringify(event.toolUse.input)) },
      ),
    );
  });
  agent.addHook(AfterToolCallEvent, (event) => {
    if (!own(event)) return;
    const step = steps.get(event.toolUse.toolUseId);
    steps.delete(event.toolUse.toolUseId);
    if (event.result.status !== 'error') return void step?.end();
    const reason = clip(resultText(event.result).replace(/^Error: /, ''));
    const ms = step?.end({ detail: `failed: ${reason}` }) ?? 0;
    const delegated = collaborators.has(event.toolUse.name);
    // A failed collaborator is the one to blame (with what its model used before it failed); a failed tool, the agent that called it.
    trace.add(delegated ? { agent: event.toolUse.name, event: 'error', ...trace.usageOf(event.toolUse.name), ms, detail: reason } : { agent: name, event: 'error', tool: event.toolUse.name, ms, detail: reason });
  });
  agent.addHook(AgentResultEvent, (event) => {
    if (!own(event)) return;
    trace.add({ agent: name, event: 'answer', ...trace.usageOf(name), ms: now() - started, detail: clip(event.result.toString()) });
  });
}
