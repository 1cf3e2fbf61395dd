import { createHash } from 'crypto';
import { ChatMessage } from './dataset';

/**
 * The judge: a model behind the gateway reads the question and two answers, blind (A and B, the
 * order drawn from the prompt hash so neither side always comes first), and returns JSON scores
 * 0-10 by the rubric. The parser accepts what judges actually send: code fences, prose around the
 * JSON, "8/10", keys in other cases; anything else is counted as unjudged, never guessed.
 */
export const RUBRIC = `You are grading two answers to the same request. Judge each on its own merits:
- correctness and faithfulness to the request (most important)
- completeness: does it do everything that was asked
- clarity and concision; the language of the request
Give each answer an integer score from 0 (useless or wrong) to 10 (excellent).
Reply with JSON only, no other text: {"a": <score of answer A>, "b": <score of answer B>, "reason": "<one sentence>"}`;

export interface JudgePrompt {
  readonly messages: ChatMessage[];
  /** true: the student's answer is A. */
  readonly studentIsA: boolean;
}

function messageText(m: ChatMessage): string {
  return typeof m.content === 'string' ? m.content : m.content.map((p) => (typeof p.text === 'string' ? p.text : `[${p.type}]`)).join('\n');
}

export function judgePrompt(promptHash: string, request: readonly ChatMessage[], student: string, teacher: string): JudgePrompt {
  const studentIsA = parseInt(createHash('sha256').update(`cnllm-judge-order:${promptHash}`).digest('hex').slice(0, 2), 16) % 2 === 0;
  const [a, b] = studentIsA ? [student, teacher] : [teacher, student];
  const conversation = request.map((m) => `${m.role}: ${messageText(m)}`).join('\n');
  return {
    studentIsA,
    messages: [
      { role: 'system', content: RUBRIC },
      { role: 'user', content: `<request>\n${conversation}\n</request>\n\n<answer_a>\n${a}\n</answer_a>\n\n<answer_b>\n${b}\n</answer_b>` },
    ],
  };
}

export interface JudgeScores {
  readonly a: number;
  readonly b: number;
  readonly reason?: string;
}

function score(value: unknown): number | undefined {
  let n: number;
  if (typeof value === 'number') n = value;
  else if (typeof value === 'string') {
    const m = /^\s*(-?\d+(?:\.\d+)?)\s*(?:\/\s*10)?\s*$/.exec(value);
    if (!m) return undefined;
    n = Number(m[1]);
  } else return undefined;
  return Number.isFinite(n) && n >= 0 && n <= 10 ? n : undefined;
}

/** Balanced {...} objects in the text, outermost first (JSON inside prose or a code fence). */
function jsonObjects(text: string): string[] {
  const found: string[] = [];
  for (let start = text.indexOf('{'); start >= 0; start = text.indexOf('{', start + 1)) {
    let depth = 0;
    let inString = false;
    for (let i = start; i < text.length; i++) {
      const c = text[i];
      if (inString) {
        if (c === '\\') i++;
        else if (c === '"') inString = false;
      } else if (c === '"') inString = true;
      else if (c === '{') depth++;
      else if (c === '}' && --depth === 0) {
        found.push(text.slice(start, i + 1));
        break;
      }
    }
  }
  return found;
}

const A_KEYS = ['a', 'answer_a', 'score_a', 'answera', 'scorea'];
const B_KEYS = ['b', 'answer_b', 'score_b', 'answerb', 'scoreb'];

/** The judge's scores, or undefined when the reply holds none it can trust. */
export function parseJudgeReply(text: string): JudgeScores | undefined {
  for (const candidate of jsonObjects(text)) {
    let parsed: unknown;
    try {
      parsed = JSON.parse(candidate);
    } catch {
      continue;
    }
    if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) continue;
    const lower = Object.fromEntries(Object.entries(parsed).map(([k, v]) => [k.toLowerCase().replace(/[\s-]/g, '_'), v]));
    const pick = (keys: string[]) => keys.map((k) => score(lower[k] ?? lower[k.replace('_', '')])).find((v) => v !== undefined);
    const a = pick(A_KEYS);
    const b = pick(B_KEYS);
    if (a !== undefined && b !== undefined) return { a, b, ...(typeof lower.reason === 'string' && { reason: lower.reason }) };
  }
  // No usable JSON: "A: 7, B: 9" or "Answer A: 7/10" lines, when both are there and unambiguous.
  const a = [...text.matchAll(/\b(?:answer\s*)?a\b\s*[:=]\s*(\d+(?:\.\d+)?)(?:\s*\/\s*10)?/gi)];
  const b = [...text.matchAll(/\b(?:answer\s*)?b\b\s*[:=]\s*(\d+(?:\.\d+)?)(?:\s*\/\s*10)?/gi)];
  if (a.length === 1 && b.length === 1) {
    const sa = score(a[0][1]);
    const sb = score(b[0][1]);
    if (sa !== undefined && sb !== undefined) return { a: sa, b: sb };
  }
  return undefined;
}
