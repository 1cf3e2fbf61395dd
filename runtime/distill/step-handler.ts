import { S3Client } from '@aws-sdk/client-s3';
import { fromNodeProviderChain } from '@aws-sdk/credential-providers';
import { z } from 'zod';
import { sigv4Fetch } from '../client/sigv4-fetch';
import { stsBearerToken } from '../client/sts-token';
import { datasetRefSchema, RUN_ID } from './dataset';
import { GatewayClient } from './gateway-client';
import { DEFAULT_EVAL_SHARE, evaluateStep, exportStep, RunContext, splitStep, teacherStep } from './pipeline';
import { S3Storage } from './storage';

/**
 * The Lambda the Distill state machine calls for each step but training (the SageMaker job).
 * Files live in the weights bucket (contract layout, dataset.ts); models are reached through the
 * kit's gateway: SigV4 for the REST API (execute-api), an STS bearer token for the streaming door
 * when $CNLLM_GATEWAY_AUDIENCE is set, nothing for a loopback URL.
 */
const alias = z.string().regex(/^[A-Za-z0-9][A-Za-z0-9._:/-]{0,127}$/, { error: 'must be a model alias the gateway serves' });
export const stepEventSchema = z
  .object({
    step: z.enum(['export', 'teacher', 'split', 'evaluate'], { error: 'must be export, teacher, split or evaluate' }),
    runId: z.string().regex(RUN_ID, { error: 'must be 1-80 letters, digits, ".", "_" or "-"' }),
    bucket: z.string().min(3),
    dataset: datasetRefSchema,
    teacher: alias,
    student: alias.optional(),
    judge: alias.optional(),
    gatewayUrl: z.string().url({ error: 'must be the gateway base URL up to /v1' }),
    /** Answers asked per prompt. @default 1 */
    samplesPerPrompt: z.number().int().min(1).max(16).default(1),
    /** Share of prompts held out for evaluation. @default 0.1 */
    evalShare: z.number().min(0).max(0.5).default(DEFAULT_EVAL_SHARE),
    /** Requests in flight at once. @default 4 */
    concurrency: z.number().int().min(1).max(64).default(4),
    /** Share of the teacher's judged quality the student must keep to be promoted. @default 0.9 */
    promoteThreshold: z.number().min(0).max(2).default(0.9),
  })
  .strict();
export type StepEvent = z.input<typeof stepEventSchema>;

export interface LambdaContextLike {
  getRemainingTimeInMillis(): number;
}

export interface StepHandlerDeps {
  readonly s3: S3Client;
  /** How requests reach the gateway; @default by URL (SigV4 for execute-api) */
  readonly gatewayFetch?: typeof fetch;
  /** Time kept back at the end of an invocation to save progress and return. @default 60000 */
  readonly reserveMs?: number;
  readonly flushIntervalMs?: number;
  readonly env?: NodeJS.ProcessEnv;
  /** @default one JSON line on stdout (CloudWatch Logs) */
  readonly log?: (line: Record<string, unknown>) => void;
}

/** SigV4 for the REST API, an STS token for the door, nothing for loopback (tests, a tunnel). */
export function gatewayFetch(gatewayUrl: string, env: NodeJS.ProcessEnv): typeof fetch | undefined {
  const region = env.AWS_REGION ?? 'cn-northwest-1';
  const credentials = fromNodeProviderChain();
  const host = new URL(gatewayUrl).hostname;
  if (/(^|\.)execute-api\./.test(host)) return sigv4Fetch({ region, credentials });
  const audience = env.CNLLM_GATEWAY_AUDIENCE;
  if (!audience) return undefined;
  return async (input, init) => {
    const headers = new Headers(init?.headers);
    headers.set('authorization', `Bearer ${await stsBearerToken({ region, credentials, audience })}`);
    return fetch(input, { ...init, headers });
  };
}

export function createStepHandler(deps: StepHandlerDeps) {
  return async (rawEvent: unknown, context?: LambdaContextLike): Promise<Record<string, unknown>> => {
    const parsed = stepEventSchema.safeParse(rawEvent);
    if (!parsed.success) {
      const issue = parsed.error.issues[0];
      throw new Error(`distill step event: ${issue.path.join('.') || 'event'} ${issue.message}`);
    }
    const event = parsed.data;
    const storage = new S3Storage(deps.s3, event.bucket);
    const client = (baseUrl: string) => new GatewayClient({ baseUrl, fetch: deps.gatewayFetch ?? gatewayFetch(baseUrl, deps.env ?? process.env) });
    const gateway = client(event.gatewayUrl);
    const run: RunContext = { storage, runId: event.runId, gateway, teacher: event.teacher };
    const deadline = context ? Date.now() + context.getRemainingTimeInMillis() - (deps.reserveMs ?? 60000) : undefined;
    const flushIntervalMs = deps.flushIntervalMs ?? 5000;
    const result = await runStep(event, run, { deadline, flushIntervalMs });
    // One line per step for the logs: counts and verdicts only, never a prompt or an answer.
    (deps.log ?? ((line) => console.log(JSON.stringify(line))))({ level: 'info', msg: 'distill step', runId: event.runId, dataset: `${event.dataset.name}/${event.dataset.version}`, teacher: event.teacher, ...result });
    return result;
  };
}

async function runStep(event: z.output<typeof stepEventSchema>, run: RunContext, opts: { deadline?: number; flushIntervalMs: number }): Promise<Record<string, unknown>> {
  const { storage, gateway } = run;
  const { deadline, flushIntervalMs } = opts;
  switch (event.step) {
    case 'export': {
      const log = await exportStep(run, event.dataset);
      return { done: true, step: event.step, prompts: log.prompts, crossBorder: log.crossBorder, exported: log.exported, masked: log.masked, maskedTotal: log.maskedTotal };
    }
    case 'teacher': {
      const result = await teacherStep(run, { samplesPerPrompt: event.samplesPerPrompt, concurrency: event.concurrency, deadline, flushIntervalMs });
      return { step: event.step, ...result };
    }
    case 'split': {
      const counts = await splitStep(storage, event.runId, event.evalShare);
      return { done: true, step: event.step, ...counts };
    }
    case 'evaluate': {
      if (!event.student || !event.judge) throw new Error(`distill step event: evaluate needs ${!event.student ? 'student' : 'judge'} (the alias the gateway serves it under)`);
      const result = await evaluateStep({
        storage,
        runId: event.runId,
        teacher: event.teacher,
        student: { client: gateway, model: event.student },
        judge: { client: gateway, model: event.judge },
        promoteThreshold: event.promoteThreshold,
        concurrency: event.concurrency,
        deadline,
        flushIntervalMs,
      });
      if (!result.done) return { done: false, step: event.step, remaining: result.remaining };
      const r = result.report;
      return { done: true, step: event.step, promote: r.promote, score: r.score, winRate: r.winRate, verdict: r.verdict, ...r.counts };
    }
  }
}

let defaultHandler: ReturnType<typeof createStepHandler> | undefined;

/** The Lambda entry: one S3 client per container, reused across invocations. */
export const handler = (event: unknown, context?: LambdaContextLike) => {
  defaultHandler ??= createStepHandler({ s3: new S3Client({}) });
  return defaultHandler(event, context);
};
