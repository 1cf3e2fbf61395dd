import { createHash } from 'crypto';
import { z } from 'zod';

/**
 * Prompt datasets and run files, in the layout the Distill stack shares (weights bucket):
 * prompts `distill/datasets/<name>/<version>/prompts.jsonl` + `manifest.json`, a run's work under
 * `distill/runs/<runId>/`, adapters under `adapters/<adapterName>/<version>/`.
 */
export const DATASET_NAME = /^[a-z0-9][a-z0-9._-]{0,62}$/;

export interface DatasetRef {
  readonly name: string;
  readonly version: string;
}

export const datasetRefSchema = z
  .object({
    name: z.string().regex(DATASET_NAME, { error: 'must be 1-63 lower-case letters, digits, ".", "_" or "-"' }),
    version: z.string().regex(DATASET_NAME, { error: 'must be 1-63 lower-case letters, digits, ".", "_" or "-", e.g. "v1" or "2026-06-01"' }),
  })
  .strict();

export const RUN_ID = /^[A-Za-z0-9][A-Za-z0-9._-]{0,79}$/;

export const layout = {
  prompts: (d: DatasetRef) => `distill/datasets/${d.name}/${d.version}/prompts.jsonl`,
  manifest: (d: DatasetRef) => `distill/datasets/${d.name}/${d.version}/manifest.json`,
  exportedPrompts: (runId: string) => `distill/runs/${runId}/export/prompts.jsonl`,
  exportLog: (runId: string) => `distill/runs/${runId}/export/export-log.json`,
  answers: (runId: string) => `distill/runs/${runId}/teacher/answers.jsonl`,
  train: (runId: string) => `distill/runs/${runId}/dataset/train.jsonl`,
  eval: (runId: string) => `distill/runs/${runId}/dataset/eval.jsonl`,
  studentAnswers: (runId: string) => `distill/runs/${runId}/eval/student-answers.jsonl`,
  judgements: (runId: string) => `distill/runs/${runId}/eval/judgements.jsonl`,
  reportMd: (runId: string) => `distill/runs/${runId}/eval/report.md`,
  reportJson: (runId: string) => `distill/runs/${runId}/eval/report.json`,
  adapter: (adapterName: string, version: string) => `adapters/${adapterName}/${version}/`,
};

export const datasetManifestSchema = z
  .object({
    /** The owner cleared this data for processing outside mainland China (cross-border teacher). */
    exportAllowed: z.boolean({ error: 'must be true or false' }),
    description: z.string().optional(),
    /**
     * Extra personal-data patterns of this dataset, masked before a cross-border export like the
     * built-in ones, e.g. [{"kind": "employee_id", "pattern": "EMP-\\d{6}"}]. @default none
     */
    maskPatterns: z
      .array(z.object({ kind: z.string().regex(/^[a-z][a-z0-9_]{0,31}$/, { error: 'kind must be a short snake_case name' }), pattern: z.string().min(1), replacement: z.string().optional() }).strict())
      .optional(),
  })
  .passthrough();
export type DatasetManifest = z.output<typeof datasetManifestSchema>;

const contentPart = z.object({ type: z.string() }).passthrough();
const messageSchema = z
  .object({
    role: z.enum(['system', 'user', 'assistant', 'developer', 'tool']),
    content: z.union([z.string(), z.array(contentPart)]),
  })
  .passthrough();
export type ChatMessage = z.output<typeof messageSchema>;

export const promptRecordSchema = z
  .object({
    id: z.union([z.string(), z.number()]).optional(),
    messages: z
      .array(messageSchema)
      .min(1, { error: 'needs at least one message' })
      .refine((m) => m[m.length - 1].role === 'user', { error: 'the last message must be the user\'s (the teacher answers it)' }),
  })
  .passthrough();
export type PromptRecord = z.output<typeof promptRecordSchema>;

/** Thrown for a dataset that cannot be used as given; the message names the file, line and fix. */
export class DatasetError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'DatasetError';
  }
}

/** One JSON value per non-empty line; a bad line fails with its number (a silently skipped prompt is a silent gap in the data). */
export function parseJsonl(text: string, source: string): unknown[] {
  const out: unknown[] = [];
  text.split('\n').forEach((line, i) => {
    if (line.trim() === '') return;
    try {
      out.push(JSON.parse(line));
    } catch (e) {
      throw new DatasetError(`${source} line ${i + 1} is not JSON (${(e as Error).message}): one JSON object per line`);
    }
  });
  return out;
}

export function toJsonl(records: readonly unknown[]): string {
  return records.map((r) => `${JSON.stringify(r)}\n`).join('');
}

export function parsePrompts(text: string, source: string): PromptRecord[] {
  const records = parseJsonl(text, source).map((value, i) => {
    const parsed = promptRecordSchema.safeParse(value);
    if (!parsed.success) {
      const issue = parsed.error.issues[0];
      throw new DatasetError(`${source} record ${i + 1}: ${issue.path.join('.') || 'record'} ${issue.message} (expected {"messages":[{"role":"user","content":"..."}], "id"?: ...})`);
    }
    return parsed.data;
  });
  if (records.length === 0) throw new DatasetError(`${source} holds no prompts`);
  return records;
}

export function parseManifest(text: string | undefined, dataset: DatasetRef, source: string): DatasetManifest {
  if (text === undefined) throw new DatasetError(`dataset ${dataset.name}/${dataset.version} has no manifest (${source}): write {"exportAllowed": false, "description": "..."} next to prompts.jsonl`);
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (e) {
    throw new DatasetError(`${source} is not JSON: ${(e as Error).message}`);
  }
  const parsed = datasetManifestSchema.safeParse(json);
  if (!parsed.success) throw new DatasetError(`${source}: ${parsed.error.issues[0].path.join('.')} ${parsed.error.issues[0].message}`);
  return parsed.data;
}

/** Canonical JSON: keys sorted, so one prompt has one hash whatever order its fields were written in. */
export function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  if (value !== null && typeof value === 'object') {
    return `{${Object.keys(value as object)
      .filter((k) => (value as Record<string, unknown>)[k] !== undefined)
      .sort()
      .map((k) => `${JSON.stringify(k)}:${canonicalJson((value as Record<string, unknown>)[k])}`)
      .join(',')}}`;
  }
  return JSON.stringify(value);
}

/** The key of a prompt everywhere in a run (answers, dedup, split): its messages, nothing else. */
export function promptHash(messages: readonly ChatMessage[]): string {
  return createHash('sha256').update(canonicalJson(messages.map((m) => ({ role: m.role, content: m.content })))).digest('hex');
}
