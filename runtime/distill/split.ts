import { createHash } from 'crypto';
import { AnswerRecord, readAnswers } from './answer-log';
import { ChatMessage } from './dataset';

/** A training example in the chat format train_lora.py reads: the prompt's messages and the teacher's answer. */
export interface TrainExample {
  readonly promptHash: string;
  readonly id?: string | number;
  readonly teacher: string;
  readonly messages: readonly ChatMessage[];
}

/** A held-out prompt with the teacher's answer as the reference the student is judged against. */
export interface EvalExample {
  readonly promptHash: string;
  readonly id?: string | number;
  readonly teacher: string;
  readonly messages: readonly ChatMessage[];
  readonly reference: string;
}

export interface SplitCounts {
  readonly answers: number;
  readonly failed: number;
  readonly truncated: number;
  readonly empty: number;
  readonly duplicates: number;
  readonly prompts: number;
  readonly train: number;
  readonly eval: number;
}

export type DropReason = 'failed' | 'truncated' | 'empty';

/** Why an answer cannot teach: no answer, cut off at the token limit (or filtered), or nothing said. */
export function dropReason(r: AnswerRecord): DropReason | undefined {
  if (r.error) return 'failed';
  if (r.finish_reason !== 'stop' && r.finish_reason !== null && r.finish_reason !== undefined) return 'truncated';
  if (typeof r.content !== 'string' || r.content.trim() === '') return 'empty';
  return undefined;
}

/** The rank a prompt holds for the eval draw: a hash of its hash, so the draw is fixed by content, not by file order. */
function evalRank(hash: string): string {
  return createHash('sha256').update(`cnllm-distill-eval:${hash}`).digest('hex');
}

/**
 * Filter, deduplicate and split teacher answers. Held out: the round(prompts × evalShare) prompts
 * (at least one when there are two or more and evalShare > 0) with the lowest rank; the same
 * answers always give the same split, whatever order they were written in. All samples of a
 * prompt fall on one side, so the student is never judged on a prompt it was trained on.
 */
export function splitAnswers(answersText: string | undefined, evalShare: number): { train: TrainExample[]; eval: EvalExample[]; counts: SplitCounts } {
  if (!(evalShare >= 0 && evalShare < 1)) throw new Error(`evalShare must be at least 0 and below 1, not ${evalShare}`);
  const { records } = readAnswers(answersText);
  const drops: Record<DropReason, number> = { failed: 0, truncated: 0, empty: 0 };
  const byPrompt = new Map<string, AnswerRecord[]>();
  let duplicates = 0;
  const seen = new Set<string>();
  for (const record of records) {
    const reason = dropReason(record);
    if (reason) {
      drops[reason]++;
      continue;
    }
    const identity = `${record.promptHash}\n${record.content!.trim()}`;
    if (seen.has(identity)) {
      duplicates++;
      continue;
    }
    seen.add(identity);
    byPrompt.set(record.promptHash, [...(byPrompt.get(record.promptHash) ?? []), record]);
  }
  const hashes = [...byPrompt.keys()].sort((a, b) => (evalRank(a) < evalRank(b) ? -1 : evalRank(a) > evalRank(b) ? 1 : 0));
  const evalCount = hashes.length < 2 || evalShare === 0 ? 0 : Math.max(1, Math.round(hashes.length * evalShare));
  const held = new Set(hashes.slice(0, evalCount));
  const train: TrainExample[] = [];
  const evalSet: EvalExample[] = [];
  // Output in a fixed order (prompt hash, then sample) so the files are byte-identical across runs.
  for (const hash of [...byPrompt.keys()].sort()) {
    const answers = byPrompt.get(hash)!.sort((a, b) => a.sample - b.sample);
    const first = answers[0];
    const base = { promptHash: hash, ...(first.id !== undefined && { id: first.id }), teacher: first.model };
    if (held.has(hash)) {
      evalSet.push({ ...base, messages: first.messages, reference: first.content! });
      continue;
    }
    for (const a of answers) {
      train.push({ ...base, messages: [...a.messages, { role: 'assistant', content: a.content!, ...(a.reasoning_content && { reasoning_content: a.reasoning_content }) }] });
    }
  }
  return {
    train,
    eval: evalSet,
    counts: { answers: records.length, ...drops, duplicates, prompts: byPrompt.size, train: train.length, eval: evalSet.length },
  };
}
