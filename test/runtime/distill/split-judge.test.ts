import { AnswerRecord, answerKey } from '../../../runtime/distill/answer-log';
import { promptHash, toJsonl } from '../../../runtime/distill/dataset';
import { buildReport, PromptVerdict, reportMarkdown } from '../../../runtime/distill/evaluate';
import { judgePrompt, parseJudgeReply } from '../../../runtime/distill/judge';
import { splitAnswers } from '../../../runtime/distill/split';

const answer = (text: string, sample: number, content: string | undefined, extra: Partial<AnswerRecord> = {}): AnswerRecord => {
  const messages = [{ role: 'user' as const, content: text }];
  const hash = promptHash(messages);
  return { key: answerKey(hash, sample), promptHash: hash, sample, model: 'teacher', messages, ...(content !== undefined && { content }), finish_reason: 'stop', time: '2026-06-01T00:00:00Z', ...extra };
};

describe('filter and split', () => {
  const good = Array.from({ length: 40 }, (_, i) => answer(`question ${i}`, 0, `answer ${i}`));
  const records = [
    ...good,
    answer('question 0', 1, 'answer 0'), // same prompt, same answer: a duplicate
    answer('question 1', 1, 'another answer 1'), // a second sample with other content: kept
    answer('cut off', 0, 'half an ans', { finish_reason: 'length' }),
    answer('filtered', 0, '', { finish_reason: 'content_filter' }),
    answer('failed', 0, undefined, { error: { message: 'POST /chat/completions answered 400', status: 400 }, finish_reason: undefined }),
    answer('blank', 0, '   '),
  ];

  test('drops failed, truncated, empty and duplicate answers, and counts each', () => {
    const { counts, train, eval: held } = splitAnswers(toJsonl(records), 0.1);
    expect(counts).toEqual({ answers: 46, failed: 1, truncated: 2, empty: 1, duplicates: 1, prompts: 40, train: train.length, eval: 4 });
    expect(train.length + held.length).toBe(41);
    expect(JSON.stringify(train)).not.toMatch(/half an ans|cut off|failed|blank/);
    for (const t of train) expect(t.messages[t.messages.length - 1]).toEqual(expect.objectContaining({ role: 'assistant' }));
  });

  test('the split depends on the answers only: any order gives byte-identical files, and all samples of a prompt stay on one side', () => {
    const first = splitAnswers(toJsonl(records), 0.1);
    const shuffled = [...records].sort((a, b) => (a.promptHash.slice(3) < b.promptHash.slice(3) ? -1 : 1)).reverse();
    const second = splitAnswers(toJsonl(shuffled), 0.1);
    expect(toJsonl(second.train)).toBe(toJsonl(first.train));
    expect(toJsonl(second.eval)).toBe(toJsonl(first.eval));
    const heldOut = new Set(first.eval.map((e) => e.promptHash));
    expect(first.train.some((t) => heldOut.has(t.promptHash))).toBe(false);
    expect(first.eval.every((e) => e.reference.startsWith('answer') || e.reference.startsWith('another'))).toBe(true);
  });

  test('evalShare sets the held-out count; 0 holds out nothing; out of range fails', () => {
    expect(splitAnswers(toJsonl(good), 0.25).eval).toHaveLength(10);
    expect(splitAnswers(toJsonl(good), 0).eval).toHaveLength(0);
    expect(splitAnswers(toJsonl(good.slice(0, 3)), 0.1).eval).toHaveLength(1);
    expect(() => splitAnswers(toJsonl(good), 1)).toThrow(/evalShare must be at least 0 and below 1/);
  });

  test('a line cut short by an interrupted append is skipped, not fatal', () => {
    const text = toJsonl(good.slice(0, 5)) + '{"key":"abc#0","promptHash":"ab';
    expect(splitAnswers(text, 0.2).counts.answers).toBe(5);
  });
});

describe('judge reply parsing', () => {
  test.each([
    ['{"a": 7, "b": 9, "reason": "B is complete"}', { a: 7, b: 9, reason: 'B is complete' }],
    ['```json\n{"a": 8, "b": 6}\n```', { a: 8, b: 6 }],
    ['Here is my grading.\n{"A": "7/10", "B": "10"}\nThanks.', { a: 7, b: 10 }],
    ['{"score_a": 4.5, "score_b": 5}', { a: 4.5, b: 5 }],
    ['{"reason": "a {nested} brace", "a": 3, "b": 2}', { a: 3, b: 2, reason: 'a {nested} brace' }],
    ['Answer A: 6/10\nAnswer B: 8/10', { a: 6, b: 8 }],
    ['{"notes": {"x": 1}} then {"a": 1, "b": 2}', { a: 1, b: 2 }],
  ])('reads %j', (reply, expected) => {
    expect(parseJudgeReply(reply)).toEqual(expected);
  });

  test.each([
    ['I think both are fine.'],
    ['{"a": 11, "b": 5}'],
    ['{"a": -1, "b": 5}'],
    ['{"a": "good", "b": 5}'],
    ['{"a": 7}'],
    ['A: 5, B: 6, and on reflection A: 7'],
    [''],
  ])('refuses to guess from %j', (reply) => {
    expect(parseJudgeReply(reply)).toBeUndefined();
  });

  test('the judge sees the answers blind, in an order fixed by the prompt, and both orders occur', () => {
    const orders = Array.from({ length: 20 }, (_, i) => judgePrompt(promptHash([{ role: 'user', content: `q${i}` }]), [{ role: 'user', content: `q${i}` }], 'STUDENT', 'TEACHER'));
    expect(new Set(orders.map((o) => o.studentIsA))).toEqual(new Set([true, false]));
    for (const o of orders) {
      const user = String(o.messages[1].content);
      expect(user.indexOf('STUDENT') < user.indexOf('TEACHER')).toBe(o.studentIsA);
      // Blind: nothing but the order tells the judge which answer is whose.
      expect(`${o.messages[0].content}\n${user}`.replace(/STUDENT|TEACHER/g, '')).not.toMatch(/student|teacher|distil/i);
    }
    const again = judgePrompt(promptHash([{ role: 'user', content: 'q3' }]), [{ role: 'user', content: 'q3' }], 'STUDENT', 'TEACHER');
    expect(again.studentIsA).toBe(orders[3].studentIsA);
  });
});

describe('evaluation report and promotion', () => {
  const verdict = (studentScore: number | undefined, teacherScore: number | undefined, outcome: PromptVerdict['outcome'], i: number): PromptVerdict => ({ promptHash: `h${i}`, prompt: `prompt | ${i}`, student: 's', teacher: 't', ...(studentScore !== undefined && { studentScore, teacherScore }), outcome });
  const opts = { runId: 'r', teacher: 'nova-pro', student: { model: 'qwen-student' }, judge: { model: 'qwen-max' }, now: () => new Date('2026-06-01T00:00:00Z') } as const;

  test('score is the share of the teacher quality kept; promoted only at or above the threshold', () => {
    const prompts = [verdict(9, 9, 'tie', 1), verdict(8, 10, 'loss', 2), verdict(10, 9, 'win', 3), verdict(9, 10, 'loss', 4)];
    const r = buildReport({ ...opts, promoteThreshold: 0.9 }, prompts);
    expect(r.score).toBeCloseTo(36 / 38);
    expect(r.winRate).toBeCloseTo(1.5 / 4);
    expect(r.promote).toBe(true);
    expect(buildReport({ ...opts, promoteThreshold: 0.96 }, prompts).promote).toBe(false);
    expect(buildReport({ ...opts, promoteThreshold: 0.96 }, prompts).verdict).toMatch(/not promoted: the student keeps 94.7% .* below the threshold of 96%/);
  });

  test('too few judged prompts: no promotion whatever the scores', () => {
    const r = buildReport(opts, [verdict(10, 5, 'win', 1), verdict(undefined, undefined, 'unjudged', 2), verdict(undefined, undefined, 'student-failed', 3)]);
    expect(r.counts).toEqual(expect.objectContaining({ evalPrompts: 3, judged: 1, unjudged: 1, studentFailed: 1 }));
    expect(r.promote).toBe(false);
    expect(r.verdict).toMatch(/only 1 of 3 held-out prompts were judged/);
  });

  test('the markdown report holds the verdict, thresholds, counts and at most 20 escaped rows', () => {
    const many = Array.from({ length: 30 }, (_, i) => verdict(7, 8, 'loss', i));
    const md = reportMarkdown(buildReport(opts, many));
    expect(md).toContain('not promoted');
    expect(md).toContain('(threshold 90.0%)');
    expect(md).toContain('first 20 of 30; all in report.json');
    expect(md.split('\n').filter((l) => /^\| h\d/.test(l))).toHaveLength(20);
    expect(md).toContain('prompt \\| 1');
  });
});
