import { collectAnswers, CollectResult } from './answer-log';
import { DatasetRef, layout, parsePrompts, toJsonl } from './dataset';
import { evaluate, EvaluateResult } from './evaluate';
import { ExportLogRecord, exportPrompts, teacherIsCrossBorder } from './export-gate';
import { GatewayClient } from './gateway-client';
import { ExtraPattern } from './pii-mask';
import { splitAnswers, SplitCounts } from './split';
import { DistillStorage } from './storage';

/**
 * The pipeline's steps, the same on one machine (scripts/distill-local.ts, a directory) and in the
 * Step Functions run (step-handler.ts, the weights bucket): only the storage and the clients differ.
 * Training sits between split and evaluate: training/train_lora.py, locally or as the SageMaker job.
 */
export interface RunContext {
  readonly storage: DistillStorage;
  readonly runId: string;
  readonly gateway: GatewayClient;
  readonly teacher: string;
}

/** @default share of prompts held out for evaluation */
export const DEFAULT_EVAL_SHARE = 0.1;

export async function exportStep(run: RunContext, dataset: DatasetRef, extraPatterns?: readonly ExtraPattern[]): Promise<ExportLogRecord> {
  const crossBorder = await teacherIsCrossBorder(run.gateway, run.teacher);
  return exportPrompts({ storage: run.storage, runId: run.runId, dataset, teacher: run.teacher, crossBorder, extraPatterns });
}

export interface TeacherStepOptions {
  readonly samplesPerPrompt?: number;
  readonly concurrency?: number;
  readonly deadline?: number;
  readonly flushIntervalMs?: number;
  /** Request fields for the teacher (temperature, max_tokens...). */
  readonly request?: Record<string, unknown>;
}

/** Reads only the export step's output: prompts reach the teacher through the gate or not at all. */
export async function teacherStep(run: RunContext, opts: TeacherStepOptions = {}): Promise<CollectResult> {
  const key = layout.exportedPrompts(run.runId);
  const text = await run.storage.read(key);
  if (text === undefined) throw new Error(`no exported prompts at ${run.storage.describe(key)}: run the export step first (it is the only way prompts reach a teacher)`);
  return collectAnswers({
    storage: run.storage,
    key: layout.answers(run.runId),
    client: run.gateway,
    model: run.teacher,
    prompts: parsePrompts(text, run.storage.describe(key)),
    samplesPerPrompt: opts.samplesPerPrompt,
    concurrency: opts.concurrency,
    deadline: opts.deadline,
    flushIntervalMs: opts.flushIntervalMs,
    request: { ...((opts.samplesPerPrompt ?? 1) > 1 && { temperature: 0.8 }), ...opts.request },
  });
}

export async function splitStep(storage: DistillStorage, runId: string, evalShare = DEFAULT_EVAL_SHARE): Promise<SplitCounts> {
  const { train, eval: evalSet, counts } = splitAnswers(await storage.read(layout.answers(runId)), evalShare);
  if (train.length === 0) throw new Error(`no usable teacher answers in ${storage.describe(layout.answers(runId))} (${JSON.stringify(counts)}): nothing to train on`);
  await storage.write(layout.train(runId), toJsonl(train));
  await storage.write(layout.eval(runId), toJsonl(evalSet));
  return counts;
}

export { evaluate as evaluateStep };
export type { EvaluateResult };
