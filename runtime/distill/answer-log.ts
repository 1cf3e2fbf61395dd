import { ChatMessage, PromptRecord, promptHash } from './dataset';
import { ChatAnswer, GatewayCallError, GatewayClient } from './gateway-client';
import { DistillStorage } from './storage';

/** One line of an answers file (teacher answers, student answers), keyed by prompt hash and sample. */
export interface AnswerRecord {
  readonly key: string;
  readonly promptHash: string;
  readonly sample: number;
  readonly id?: string | number;
  /** The alias that answered. */
  readonly model: string;
  readonly messages: readonly ChatMessage[];
  readonly content?: string;
  readonly reasoning_content?: string;
  readonly finish_reason?: string | null;
  readonly usage?: Record<string, unknown>;
  /** Set when the model could not answer (after retries): the split drops the record. */
  readonly error?: { readonly message: string; readonly status?: number };
  readonly time: string;
}

export interface CollectOptions {
  readonly storage: DistillStorage;
  /** The append-only answers file. */
  readonly key: string;
  readonly client: GatewayClient;
  readonly model: string;
  readonly prompts: readonly PromptRecord[];
  /** @default 1 */
  readonly samplesPerPrompt?: number;
  /** Requests in flight at once. @default 4 */
  readonly concurrency?: number;
  /** Extra request fields (temperature, max_tokens...). */
  readonly request?: Record<string, unknown>;
  /** Epoch ms: no request starts after it; answers in flight are still saved. */
  readonly deadline?: number;
  /**
   * Answers are saved at least this often. 0: after every answer (a local file: a kill loses at most
   * the answers in flight). S3 has no append, so a run there batches. @default 0
   */
  readonly flushIntervalMs?: number;
  readonly onAnswer?: (record: AnswerRecord) => void;
}

export interface CollectResult {
  /** Every sample of every prompt has a record. */
  readonly done: boolean;
  readonly total: number;
  readonly alreadyAnswered: number;
  readonly answeredNow: number;
  readonly failedNow: number;
  readonly remaining: number;
}

export function answerKey(hash: string, sample: number): string {
  return `${hash}#${sample}`;
}

/**
 * The records of an answers file. A line cut short by a kill is skipped (its prompt is asked
 * again); `endsClean` says whether the next append must start a new line first.
 */
export function readAnswers(text: string | undefined): { records: AnswerRecord[]; endsClean: boolean } {
  if (!text) return { records: [], endsClean: true };
  const records: AnswerRecord[] = [];
  for (const line of text.split('\n')) {
    if (line.trim() === '') continue;
    try {
      const record = JSON.parse(line) as AnswerRecord;
      if (typeof record.key === 'string') records.push(record);
    } catch {
      // the tail of an interrupted append
    }
  }
  return { records, endsClean: text.endsWith('\n') };
}

/**
 * Asks `model` for every prompt (and sample) not yet in the answers file, with bounded concurrency,
 * appending each answer as it comes: after an interruption a rerun asks only for what is missing,
 * and no prompt is answered twice. Retryable failures are retried by the client; a prompt that
 * still fails gets an error record (so the run ends) that the split drops.
 */
export async function collectAnswers(opts: CollectOptions): Promise<CollectResult> {
  const samples = opts.samplesPerPrompt ?? 1;
  const existing = readAnswers(await opts.storage.read(opts.key));
  const answered = new Set(existing.records.map((r) => r.key));
  const work: { prompt: PromptRecord; hash: string; sample: number }[] = [];
  const planned = new Set<string>();
  for (const prompt of opts.prompts) {
    const hash = promptHash(prompt.messages);
    for (let sample = 0; sample < samples; sample++) {
      const key = answerKey(hash, sample);
      // The same prompt twice in a dataset is asked once.
      if (planned.has(key)) continue;
      planned.add(key);
      if (!answered.has(key)) work.push({ prompt, hash, sample });
    }
  }
  const alreadyAnswered = planned.size - work.length;
  let pending: string[] = [];
  let needsNewline = !existing.endsClean;
  let lastFlush = Date.now();
  let flushing: Promise<void> = Promise.resolve();
  const flush = () => {
    if (pending.length === 0) return flushing;
    const text = (needsNewline ? '\n' : '') + pending.join('');
    needsNewline = false;
    pending = [];
    lastFlush = Date.now();
    // Appends run one after another: S3's read-modify-write must not interleave.
    flushing = flushing.then(() => opts.storage.append(opts.key, text));
    return flushing;
  };

  let next = 0;
  let answeredNow = 0;
  let failedNow = 0;
  const worker = async () => {
    while (next < work.length) {
      if (opts.deadline !== undefined && Date.now() >= opts.deadline) return;
      const item = work[next++];
      let record: AnswerRecord;
      const base = { key: answerKey(item.hash, item.sample), promptHash: item.hash, sample: item.sample, ...(item.prompt.id !== undefined && { id: item.prompt.id }), model: opts.model, messages: item.prompt.messages };
      try {
        const answer: ChatAnswer = await opts.client.chat({ ...opts.request, model: opts.model, messages: item.prompt.messages }, opts.deadline);
        record = { ...base, content: answer.content, ...(answer.reasoning_content && { reasoning_content: answer.reasoning_content }), finish_reason: answer.finish_reason, ...(answer.usage && { usage: answer.usage }), time: new Date().toISOString() };
        answeredNow++;
      } catch (e) {
        if (!(e instanceof GatewayCallError)) throw e;
        // Out of time for the retry it needs: left for the next invocation rather than recorded as failed.
        if (e.outOfTime) continue;
        record = { ...base, error: { message: e.message, ...(e.status !== undefined && { status: e.status }) }, time: new Date().toISOString() };
        failedNow++;
      }
      answered.add(record.key);
      opts.onAnswer?.(record);
      pending.push(`${JSON.stringify(record)}\n`);
      if (Date.now() - lastFlush >= (opts.flushIntervalMs ?? 0)) await flush();
    }
  };
  try {
    await Promise.all(Array.from({ length: Math.max(1, opts.concurrency ?? 4) }, worker));
  } finally {
    await flush();
  }
  const remaining = [...planned].filter((k) => !answered.has(k)).length;
  return { done: remaining === 0, total: planned.size, alreadyAnswered, answeredNow, failedNow, remaining };
}
