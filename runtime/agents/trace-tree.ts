import { TraceEvent } from './trace';

interface Node {
  event: TraceEvent;
  children: Node[];
}

/**
 * An invocation's trace as a tree for people: each collaborator's steps under the delegation that
 * started them, then the tokens each agent used.
 */
export function formatTraceTree(trace: readonly TraceEvent[], root: string): string {
  const top: Node[] = [];
  const delegations: Node[] = [];
  for (const event of trace) {
    const node: Node = { event, children: [] };
    // A collaborator's step belongs to the latest delegation to it (the trace lists steps in the order they began).
    const parent = event.agent === root ? undefined : [...delegations].reverse().find((d) => d.event.to === event.agent);
    (parent ? parent.children : top).push(node);
    if (event.event === 'delegate') delegations.push(node);
  }
  const lines = [root];
  const render = (nodes: Node[], indent: string) =>
    nodes.forEach((node, i) => {
      const last = i === nodes.length - 1;
      lines.push(`${indent}${last ? '└─ ' : '├─ '}${describe(node.event)}`);
      render(node.children, `${indent}${last ? '   ' : '│  '}`);
    });
  render(top, '');
  const usage = new Map<string, { input: number; output: number }>();
  for (const e of trace) {
    if (e.inputTokens === undefined && e.outputTokens === undefined) continue;
    // An agent's answer or failure carries its running total: the last one counts.
    usage.set(e.agent, { input: e.inputTokens ?? 0, output: e.outputTokens ?? 0 });
  }
  if (usage.size > 0) {
    const total = [...usage.values()].reduce((sum, u) => ({ input: sum.input + u.input, output: sum.output + u.output }), { input: 0, output: 0 });
    lines.push(`tokens (in/out): ${[...usage].map(([agent, u]) => `${agent} ${u.input}/${u.output}`).join(', ')}; total ${total.input}/${total.output}`);
  }
  return lines.join('\n');
}

function describe(e: TraceEvent): string {
  const head =
    e.event === 'delegate' ? `delegate → ${e.to}` : e.event === 'tool' ? `tool ${e.tool}` : e.event === 'answer' ? `answer (${e.agent})` : `ERROR (${e.agent}${e.tool ? `, tool ${e.tool}` : ''})`;
  const tokens = e.inputTokens !== undefined || e.outputTokens !== undefined ? ` ${e.inputTokens ?? 0}/${e.outputTokens ?? 0} tokens` : '';
  const detail = e.detail ? `: ${oneLine(e.detail)}` : '';
  return `${head} [${e.ms} ms${tokens}]${detail}`;
}

function oneLine(text: string): string {
  const flat = text.replace(/\s+/g, ' ').trim();
  return flat.length > 160 ? `${flat.slice(0, 159)}…` : flat;
}
