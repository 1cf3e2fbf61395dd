import { AnswerRecord, collectAnswers, readAnswers } from './answer-log';
import { layout, parseJsonl, promptHash } from './dataset';
import { GatewayClient } from './gateway-client';
import { judgePrompt, parseJudgeReply } from './judge';
import { EvalExample } from './split';
import { DistillStorage } from './storage';

export interface EvaluateOptions {
  readonly storage: DistillStorage;
  readonly runId: string;
  /** Student: the adapter served (vLLM LoRA route through the gateway, or training/serve_student.py locally). */
  readonly student: { readonly client: GatewayClient; readonly model: string };
  readonly judge: { readonly client: GatewayClient; readonly model: string };
  readonly teacher: string;
  /** Promote when the student keeps at least this share of the teacher's judged quality. @default 0.9 */
  readonly promoteThreshold?: number;
  /** At least this share of held-out prompts must be judged for any verdict. @default 0.8 */
  readonly minJudgedShare?: number;
  readonly concurrency?: number;
  readonly deadline?: number;
  readonly flushIntervalMs?: number;
  /** Request fields for the student (max_tokens, temperature). */
  readonly studentRequest?: Record<string, unknown>;
  readonly now?: () => Date;
}

export interface PromptVerdict {
  readonly promptHash: string;
  readonly id?: string | number;
  readonly prompt: string;
  readonly student: string;
  readonly teacher: string;
  readonly studentScore?: number;
  readonly teacherScore?: number;
  readonly outcome: 'win' | 'tie' | 'loss' | 'unjudged' | 'student-failed';
}

export interface EvalReport {
  readonly runId: string;
  readonly teacher: string;
  readonly student: string;
  readonly judge: string;
  readonly time: string;
  /** Mean student score / mean teacher score over judged prompts: the share of the teacher's quality kept. */
  readonly score: number;
  /** (wins + ties/2) / judged. */
  readonly winRate: number;
  readonly studentMean: number;
  readonly teacherMean: number;
  readonly promote: boolean;
  readonly verdict: string;
  readonly thresholds: { readonly promoteThreshold: number; readonly minJudgedShare: number };
  readonly counts: { readonly evalPrompts: number; readonly studentAnswered: number; readonly studentFailed: number; readonly judged: number; readonly unjudged: number; readonly wins: number; readonly ties: number; readonly losses: number };
  readonly prompts: PromptVerdict[];
}

export type EvaluateResult = { done: false; remaining: number } | { done: true; report: EvalReport };

const clip = (text: string, max: number) => {
  const flat = text.replace(/\s+/g, ' ').trim();
  return flat.length > max ? `${flat.slice(0, max - 1)}…` : flat;
};

const lastUserText = (e: EvalExample) => {
  const last = e.messages[e.messages.length - 1];
  return typeof last.content === 'string' ? last.content : last.content.map((p) => (typeof p.text === 'string' ? p.text : '')).join(' ');
};

/**
 * The evaluation gate: the student answers the held-out prompts, the judge scores student and
 * teacher blind, and the adapter is promoted only when enough prompts were judged and the student
 * keeps `promoteThreshold` of the teacher's quality. The teacher's answers are the ones from the
 * teacher step (held out, never trained on), not asked again. Student answers and judgements are
 * append-only files like the teacher's: an interrupted evaluation resumes.
 */
export async function evaluate(opts: EvaluateOptions): Promise<EvaluateResult> {
  const { storage, runId } = opts;
  const evalText = await storage.read(layout.eval(runId));
  if (evalText === undefined) throw new Error(`no held-out set at ${storage.describe(layout.eval(runId))}: run the split step first`);
  const examples = parseJsonl(evalText, storage.describe(layout.eval(runId))) as EvalExample[];
  // A student or judge alias the gateway does not serve would fail every request and end as "nothing judged": say so at once.
  for (const [role, { client, model }] of [['student', opts.student], ['judge', opts.judge]] as const) {
    const served = (await client.listModels()).map((m) => m.id);
    if (!served.includes(model)) throw new Error(`the ${role} "${model}" is not served at ${client.options.baseUrl} (GET /models lists: ${served.join(', ') || 'none'})`);
  }
  const common = { storage, concurrency: opts.concurrency, deadline: opts.deadline, flushIntervalMs: opts.flushIntervalMs };

  const studentRun = await collectAnswers({
    ...common,
    key: layout.studentAnswers(runId),
    client: opts.student.client,
    model: opts.student.model,
    prompts: examples.map((e) => ({ id: e.promptHash, messages: [...e.messages] })),
    request: opts.studentRequest,
  });
  if (!studentRun.done) return { done: false, remaining: studentRun.remaining };
  const studentAnswers = new Map(readAnswers(await storage.read(layout.studentAnswers(runId))).records.map((r) => [r.promptHash, r]));

  const judged = examples.flatMap((e) => {
    const answer = studentAnswers.get(e.promptHash);
    if (!answer || answer.error || !answer.content) return [];
    return [{ example: e, prompt: judgePrompt(e.promptHash, e.messages, answer.content, e.reference) }];
  });
  const judgeRun = await collectAnswers({
    ...common,
    key: layout.judgements(runId),
    client: opts.judge.client,
    model: opts.judge.model,
    prompts: judged.map((j) => ({ id: j.example.promptHash, messages: j.prompt.messages })),
    request: { temperature: 0 },
  });
  if (!judgeRun.done) return { done: false, remaining: judgeRun.remaining };
  const judgements = new Map<string, AnswerRecord>(readAnswers(await storage.read(layout.judgements(runId))).records.map((r) => [r.promptHash, r]));

  const verdicts: PromptVerdict[] = examples.map((e) => {
    const student = studentAnswers.get(e.promptHash);
    const base = { promptHash: e.promptHash, ...(e.id !== undefined && { id: e.id }), prompt: clip(lastUserText(e), 200), teacher: clip(e.reference, 200) };
    if (!student || student.error || !student.content) return { ...base, student: clip(student?.error?.message ?? '', 200), outcome: 'student-failed' as const };
    const j = judged.find((x) => x.example.promptHash === e.promptHash)!;
    const reply = judgements.get(promptHash(j.prompt.messages));
    const scores = reply?.content ? parseJudgeReply(reply.content) : undefined;
    if (!scores) return { ...base, student: clip(student.content, 200), outcome: 'unjudged' as const };
    const [studentScore, teacherScore] = j.prompt.studentIsA ? [scores.a, scores.b] : [scores.b, scores.a];
    const outcome = studentScore > teacherScore ? 'win' : studentScore === teacherScore ? 'tie' : 'loss';
    return { ...base, student: clip(student.content, 200), studentScore, teacherScore, outcome };
  });
  const report = buildReport(opts, verdicts);
  await storage.write(layout.reportJson(runId), `${JSON.stringify(report, null, 2)}\n`);
  await storage.write(layout.reportMd(runId), reportMarkdown(report));
  return { done: true, report };
}

export function buildReport(
  opts: Pick<EvaluateOptions, 'runId' | 'teacher' | 'promoteThreshold' | 'minJudgedShare' | 'now'> & { readonly student: { readonly model: string }; readonly judge: { readonly model: string } },
  prompts: PromptVerdict[],
): EvalReport {
  const promoteThreshold = opts.promoteThreshold ?? 0.9;
  const minJudgedShare = opts.minJudgedShare ?? 0.8;
  const scored = prompts.filter((p) => p.studentScore !== undefined);
  const count = (o: PromptVerdict['outcome']) => prompts.filter((p) => p.outcome === o).length;
  const wins = count('win');
  const ties = count('tie');
  const mean = (xs: number[]) => (xs.length === 0 ? 0 : xs.reduce((a, b) => a + b, 0) / xs.length);
  const studentMean = mean(scored.map((p) => p.studentScore!));
  const teacherMean = mean(scored.map((p) => p.teacherScore!));
  // A teacher judged worthless everywhere makes the ratio meaningless: no promotion on it.
  const score = scored.length === 0 || teacherMean === 0 ? 0 : studentMean / teacherMean;
  const winRate = scored.length === 0 ? 0 : (wins + ties / 2) / scored.length;
  const judgedShare = prompts.length === 0 ? 0 : scored.length / prompts.length;
  const enoughJudged = prompts.length > 0 && judgedShare >= minJudgedShare;
  const promote = enoughJudged && score >= promoteThreshold;
  const verdict = !enoughJudged
    ? `not promoted: only ${scored.length} of ${prompts.length} held-out prompts were judged (needs ${Math.round(minJudgedShare * 100)}%)`
    : promote
      ? `promoted: the student keeps ${(score * 100).toFixed(1)}% of the teacher's judged quality (threshold ${(promoteThreshold * 100).toFixed(0)}%)`
      : `not promoted: the student keeps ${(score * 100).toFixed(1)}% of the teacher's judged quality, below the threshold of ${(promoteThreshold * 100).toFixed(0)}%`;
  return {
    runId: opts.runId,
    teacher: opts.teacher,
    student: opts.student.model,
    judge: opts.judge.model,
    time: (opts.now?.() ?? new Date()).toISOString(),
    score,
    winRate,
    studentMean,
    teacherMean,
    promote,
    verdict,
    thresholds: { promoteThreshold, minJudgedShare },
    counts: {
      evalPrompts: prompts.length,
      studentAnswered: prompts.length - count('student-failed'),
      studentFailed: count('student-failed'),
      judged: scored.length,
      unjudged: count('unjudged'),
      wins,
      ties,
      losses: count('loss'),
    },
    prompts,
  };
}

const MD_ROWS = 20;
const cell = (text: string, max = 60) => clip(text, max).replace(/\|/g, '\\|');

export function reportMarkdown(r: EvalReport): string {
  const pct = (x: number) => `${(x * 100).toFixed(1)}%`;
  const rows = r.prompts.slice(0, MD_ROWS).map((p) => `| ${cell(String(p.id ?? p.promptHash.slice(0, 12)), 20)} | ${cell(p.prompt)} | ${cell(p.student)} | ${cell(p.teacher)} | ${p.studentScore ?? '–'} | ${p.teacherScore ?? '–'} | ${p.outcome} |`);
  return `# Distillation evaluation: ${r.runId}

**${r.verdict}**

| | |
|---|---|
| score (student mean / teacher mean) | ${pct(r.score)} (threshold ${pct(r.thresholds.promoteThreshold)}) |
| win rate (wins + ties/2, of judged) | ${pct(r.winRate)} |
| mean scores 0-10 | student ${r.studentMean.toFixed(2)}, teacher ${r.teacherMean.toFixed(2)} |
| held-out prompts | ${r.counts.evalPrompts} |
| judged / unjudged (judge reply unreadable) | ${r.counts.judged} / ${r.counts.unjudged} (at least ${pct(r.thresholds.minJudgedShare)} must be judged) |
| student failed to answer | ${r.counts.studentFailed} |
| wins / ties / losses | ${r.counts.wins} / ${r.counts.ties} / ${r.counts.losses} |
| teacher, student, judge | ${r.teacher}, ${r.student}, ${r.judge} |
| time | ${r.time} |

## Per prompt${r.prompts.length > MD_ROWS ? ` (first ${MD_ROWS} of ${r.prompts.length}; all in report.json)` : ''}

| id | prompt | student | teacher | student score | teacher score | outcome |
|---|---|---|---|---|---|---|
${rows.join('\n')}
`;
}
