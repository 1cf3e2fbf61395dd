import * as http from 'http';
import { ROUTER_ROLE, SUPERVISOR_ROLE } from '../../runtime/agents/prompts';
import { LoopbackServer } from './loopback-server';

/** What a model (by the name the gateway sends upstream) does instead of playing its role. */
export type ModelFault =
  /** An OpenAI error answer with this status (a 5xx the gateway passes on as its own failure). */
  | { kind: 'status'; status: number; message?: string }
  /** Headers and nothing more: a model that hangs. */
  | { kind: 'hang' };

interface ChatMessage {
  role: string;
  content?: string | { type: string; text?: string }[] | null;
  tool_calls?: { id: string; function: { name: string; arguments: string } }[];
  tool_call_id?: string;
}

interface ChatTool {
  type: 'function';
  function: { name: string; description?: string; parameters?: { properties?: Record<string, { type?: string; description?: string }>; required?: string[] } };
}

interface Reply {
  content: string;
  toolCalls: { name: string; arguments: Record<string, unknown> }[];
}

/**
 * An OpenAI-compatible model on loopback that plays the role its system prompt gives it,
 * deterministically, so the agents run end to end without a real model:
 * - the supervisor delegates to every collaborator whose description shares words with the request
 *   (all of them when none does), in one turn of parallel tool calls, then writes an answer from
 *   what came back, naming any collaborator that failed;
 * - the router hands the request to the one collaborator whose description matches it best;
 * - a collaborator with MCP tools calls the tool matching its input (arguments from the tool's
 *   schema: days from the text, the text as the query), then answers from the tool's result;
 *   without a matching tool it answers from its instructions.
 * Answers are streamed in the real wire format (role, content and tool-call argument deltas, the
 * finish reason, a usage chunk when asked, [DONE]) or returned whole, with token counts.
 */
export class AgentModelFake extends LoopbackServer {
  readonly requests: { model: string; body: any }[] = [];
  private readonly faults = new Map<string, ModelFault>();
  private callIds = 0;
  private readonly hanging = new Set<http.ServerResponse>();

  /** The day a tool call asks for when the request names none (YYYY-MM-DD). */
  constructor(private readonly today = new Date().toISOString().slice(0, 10)) {
    super();
  }

  /** Every call of this model fails this way from now on. */
  fail(model: string, fault: ModelFault): this {
    this.faults.set(model, fault);
    return this;
  }

  async stop(): Promise<void> {
    for (const res of this.hanging) res.destroy();
    await super.stop();
  }

  protected async serve(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    const json = (status: number, payload: object) => {
      res.writeHead(status, { 'content-type': 'application/json' });
      res.end(JSON.stringify(payload));
    };
    if (req.method !== 'POST' || req.url !== '/v1/chat/completions') return json(404, { error: { message: `no route ${req.method} ${req.url}`, type: 'invalid_request_error' } });
    const body = JSON.parse(Buffer.concat(chunks).toString('utf8'));
    this.requests.push({ model: body.model, body });
    const fault = this.faults.get(body.model);
    if (fault?.kind === 'status') return json(fault.status, { error: { message: fault.message ?? `${body.model} is unavailable (${fault.status})`, type: 'server_error', code: null, param: null } });
    if (fault?.kind === 'hang') {
      this.hanging.add(res);
      res.on('close', () => this.hanging.delete(res));
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      res.flushHeaders();
      return;
    }
    const reply = this.play(body.messages as ChatMessage[], (body.tools ?? []) as ChatTool[]);
    this.send(res, body, reply);
  }

  private play(messages: ChatMessage[], tools: ChatTool[]): Reply {
    const system = textOf(messages.find((m) => m.role === 'system')?.content);
    const lastPrompt = messages.map((m) => m.role).lastIndexOf('user');
    const prompt = textOf(messages[lastPrompt]?.content);
    const results = messages.slice(lastPrompt + 1).filter((m) => m.role === 'tool');
    const calledName = (id?: string) => messages.flatMap((m) => m.tool_calls ?? []).find((c) => c.id === id)?.function.name ?? 'a tool';
    const outcomes = results.map((r) => {
      const text = textOf(r.content);
      const failed = text.startsWith('[ERROR]');
      return { name: calledName(r.tool_call_id), failed, text: failed ? text.replace(/^\[ERROR\]\s*(Error:\s*)?/, '') : text };
    });
    const agentTools = tools.filter((t) => isAgentTool(t));
    const otherTools = tools.filter((t) => !isAgentTool(t));

    if (system.includes(ROUTER_ROLE)) {
      if (outcomes.length === 0) return call([{ name: best(prompt, agentTools)[0].function.name, arguments: { input: prompt } }]);
      const [outcome] = outcomes;
      return say(outcome.failed ? `${outcome.name} failed: ${outcome.text}` : outcome.text);
    }
    if (system.includes(SUPERVISOR_ROLE)) {
      if (outcomes.length === 0) {
        const matching = agentTools.filter((t) => overlap(prompt, describe(t)) > 0);
        return call((matching.length > 0 ? matching : agentTools).map((t) => ({ name: t.function.name, arguments: { input: prompt } })));
      }
      const lines = outcomes.map((o) => (o.failed ? `- ${o.name} failed: ${o.text}` : `- ${o.name}: ${o.text}`));
      // What the conversation held before this prompt shows that the session was remembered.
      const earlier = messages.slice(0, lastPrompt).filter((m) => m.role === 'user' && textOf(m.content)).map((m) => `"${textOf(m.content)}"`);
      return say(`Answer to "${prompt}":\n${lines.join('\n')}${earlier.length > 0 ? `\nEarlier in this session: ${earlier.join(', ')}` : ''}`);
    }
    // A collaborator: "You are the <role>. ..."
    const role = /^You are (?:the |an? )?([^.,]+)/.exec(system.trim())?.[1] ?? 'assistant';
    if (outcomes.length > 0) {
      const [outcome] = outcomes;
      return say(outcome.failed ? `The ${role} could not use ${outcome.name}: ${outcome.text}` : `The ${role} found with ${outcome.name}: ${summary(outcome.text)}`);
    }
    const tool = otherTools.length > 0 ? best(prompt, otherTools).find((t) => overlap(prompt, describe(t)) > 0) : undefined;
    if (tool) return call([{ name: tool.function.name, arguments: this.argumentsFor(tool, prompt) }]);
    return say(`The ${role} answers "${prompt}": ${firstSentence(system)}`);
  }

  /** Required arguments from the schema: days (YYYY-MM-DD) from the text, else today; the text for any other string. */
  private argumentsFor(tool: ChatTool, prompt: string): Record<string, unknown> {
    const days = prompt.match(/\d{4}-\d{2}-\d{2}/g) ?? [];
    const properties = tool.function.parameters?.properties ?? {};
    const args: Record<string, unknown> = {};
    let dayIndex = 0;
    for (const name of tool.function.parameters?.required ?? []) {
      const property = properties[name] ?? {};
      if (/YYYY-MM-DD/.test(property.description ?? '')) args[name] = days[Math.min(dayIndex++, days.length - 1)] ?? this.today;
      else if (property.type === 'integer' || property.type === 'number') args[name] = 1;
      else args[name] = prompt;
    }
    return args;
  }

  private send(res: http.ServerResponse, body: any, reply: Reply): void {
    const toolCalls = reply.toolCalls.map((c) => ({ id: `call_${++this.callIds}`, type: 'function' as const, function: { name: c.name, arguments: JSON.stringify(c.arguments) } }));
    const promptChars = JSON.stringify(body.messages).length + JSON.stringify(body.tools ?? []).length;
    const completionChars = reply.content.length + toolCalls.reduce((n, c) => n + c.function.name.length + c.function.arguments.length, 0);
    const usage = { prompt_tokens: Math.ceil(promptChars / 4), completion_tokens: Math.max(1, Math.ceil(completionChars / 4)), total_tokens: 0 };
    usage.total_tokens = usage.prompt_tokens + usage.completion_tokens;
    const finishReason = toolCalls.length > 0 ? 'tool_calls' : 'stop';
    const base = { id: `chatcmpl-${this.callIds}-${this.requests.length}`, created: 1767225600, model: body.model };
    if (!body.stream) {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ ...base, object: 'chat.completion', choices: [{ index: 0, message: { role: 'assistant', content: reply.content || null, ...(toolCalls.length > 0 && { tool_calls: toolCalls }) }, finish_reason: finishReason }], usage }));
      return;
    }
    res.writeHead(200, { 'content-type': 'text/event-stream' });
    const chunk = (delta: object, finish: string | null = null) => res.write(`data: ${JSON.stringify({ ...base, object: 'chat.completion.chunk', choices: [{ index: 0, delta, finish_reason: finish }] })}\n\n`);
    chunk({ role: 'assistant', content: '' });
    for (const piece of halves(reply.content)) chunk({ content: piece });
    toolCalls.forEach((c, index) => {
      chunk({ tool_calls: [{ index, id: c.id, type: 'function', function: { name: c.function.name, arguments: '' } }] });
      for (const piece of halves(c.function.arguments)) chunk({ tool_calls: [{ index, function: { arguments: piece } }] });
    });
    chunk({}, finishReason);
    if (body.stream_options?.include_usage) res.write(`data: ${JSON.stringify({ ...base, object: 'chat.completion.chunk', choices: [], usage })}\n\n`);
    res.end('data: [DONE]\n\n');
  }
}

function call(toolCalls: Reply['toolCalls']): Reply {
  return { content: '', toolCalls };
}

function say(content: string): Reply {
  return { content, toolCalls: [] };
}

function textOf(content: ChatMessage['content']): string {
  if (typeof content === 'string') return content;
  return (content ?? []).map((part) => part.text ?? '').join('');
}

/** Strands offers an agent as a tool taking one `input` string. */
function isAgentTool(tool: ChatTool): boolean {
  const properties = Object.keys(tool.function.parameters?.properties ?? {});
  return properties.length === 1 && properties[0] === 'input';
}

function describe(tool: ChatTool): string {
  return `${tool.function.name.replace(/[_-]+/g, ' ')} ${tool.function.description ?? ''}`;
}

const STOP_WORDS = new Set(['the', 'and', 'for', 'with', 'what', 'which', 'how', 'did', 'does', 'use', 'from', 'this', 'that', 'are', 'was', 'you', 'your', 'about', 'its', 'tool', 'agent', 'calling', 'will', 'return', 'response', 'directly', 'user', 'final', 'answer', 'should', 'only', 'called', 'turn']);

function words(text: string): Set<string> {
  return new Set((text.toLowerCase().match(/[a-z0-9]{3,}/g) ?? []).filter((w) => !STOP_WORDS.has(w)).map((w) => w.replace(/s$/, '')));
}

function overlap(a: string, b: string): number {
  const theirs = words(b);
  return [...words(a)].filter((w) => theirs.has(w)).length;
}

/** The tools by how many words they share with the text, most first (ties keep their order). */
function best(text: string, tools: ChatTool[]): ChatTool[] {
  return tools.map((tool, i) => ({ tool, i, score: overlap(text, describe(tool)) })).sort((a, b) => b.score - a.score || a.i - b.i).map((s) => s.tool);
}

function firstSentence(text: string): string {
  const match = /^[^.!?。\n]*[.!?。]?/.exec(text.trim());
  return (match?.[0] ?? '').trim();
}

/** A tool's JSON result in a sentence: its list entries (hits, rows) by their names and figures. */
function summary(text: string): string {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return clip(text, 600);
  }
  const list = value && typeof value === 'object' ? Object.values(value).find((v): v is Record<string, unknown>[] => Array.isArray(v)) : undefined;
  if (!list) return clip(text, 600);
  if (list.length === 0) return 'nothing';
  const entry = (item: Record<string, unknown>) =>
    Object.entries(item)
      .filter(([k, v]) => typeof v !== 'object' && k !== 'snippet')
      .map(([k, v]) => `${k} ${v}`)
      .join(', ');
  return clip(list.map(entry).join('; '), 600);
}

function clip(text: string, max: number): string {
  return text.length > max ? `${text.slice(0, max - 1)}…` : text;
}

/** The text in two pieces, as a stream would deliver it (nothing for empty text). */
function halves(text: string): string[] {
  if (!text) return [];
  const cut = Math.ceil(text.length / 2);
  return cut < text.length ? [text.slice(0, cut), text.slice(cut)] : [text];
}
