import { randomBytes } from 'crypto';
import { DescribeExecutionCommand, GetExecutionHistoryCommand, HistoryEvent, SFNClient, StartExecutionCommand } from '@aws-sdk/client-sfn';
import { DISTILL_PATHS, RUN_ID_PATTERN } from './distill-layout';
import { attempt, OperatorError } from './operator-error';
const NAME_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;
const ADAPTER_NAME_PATTERN = /^[a-z0-9][a-z0-9_-]{0,62}$/;

/** Where the distillation state machine lives and what a run writes where. */
export interface DistillTarget {
  readonly stateMachineArn: string;
  readonly bucket: string;
}

export interface StartRequest {
  /** `<name>/<version>` of a dataset under distill/datasets/. */
  readonly dataset: string;
  readonly runId?: string;
  readonly adapterName: string;
  /** @default the run id */
  readonly adapterVersion?: string;
}

/** A run id that sorts by start time: `YYYYMMDD-HHMMSS-<4 hex>` (UTC). */
export function newRunId(now = new Date()): string {
  const stamp = now.toISOString().replace(/[-:]/g, '').replace('T', '-').slice(0, 15);
  return `${stamp}-${randomBytes(2).toString('hex')}`;
}

/** The execution input the state machine expects: `{ runId, dataset: {name, version}, adapter: {name, version} }`. */
export function executionInput(request: StartRequest): { runId: string; dataset: { name: string; version: string }; adapter: { name: string; version: string } } {
  const [name, version, ...rest] = request.dataset.split('/');
  if (!name || !version || rest.length > 0 || !NAME_PATTERN.test(name) || !NAME_PATTERN.test(version)) {
    throw new OperatorError(`--dataset ${request.dataset}: expected <name>/<version> as uploaded to distill/datasets/<name>/<version>/ (letters, digits, ".", "_", "-")`);
  }
  const runId = request.runId ?? newRunId();
  if (!RUN_ID_PATTERN.test(runId)) throw new OperatorError(`--run-id ${runId}: use 1-40 lower-case letters and digits, single "-" between them (it names S3 prefixes and the SageMaker job)`);
  if (!ADAPTER_NAME_PATTERN.test(request.adapterName)) throw new OperatorError(`--adapter-name ${request.adapterName}: use lower-case letters, digits, "_" or "-" (it becomes a model alias)`);
  const adapterVersion = request.adapterVersion ?? runId;
  if (!NAME_PATTERN.test(adapterVersion)) throw new OperatorError(`--adapter-version ${adapterVersion}: use letters, digits, ".", "_" or "-"`);
  return { runId, dataset: { name, version }, adapter: { name: request.adapterName, version: adapterVersion } };
}

/** Starts a run: the execution is named after the run id, so the same run cannot start twice. */
export async function startRun(sfn: SFNClient, target: DistillTarget, request: StartRequest) {
  const input = executionInput(request);
  const started = await attempt('start the distillation run', async () => {
    try {
      return await sfn.send(new StartExecutionCommand({ stateMachineArn: target.stateMachineArn, name: input.runId, input: JSON.stringify(input) }));
    } catch (e) {
      const name = (e as Error).name;
      if (name === 'StateMachineDoesNotExist') throw new OperatorError(`${target.stateMachineArn} does not exist: deploy the Distill stack first (npm run cdk -- deploy <prefix>-Distill -c stacks.distill=true)`);
      if (name === 'ExecutionAlreadyExists') throw new OperatorError(`run ${input.runId} exists already with other settings: pick another --run-id`);
      throw e;
    }
  });
  return { ...input, executionArn: started.executionArn!, startDate: started.startDate };
}

export interface RunStatus {
  readonly runId: string;
  readonly executionArn: string;
  readonly status: string;
  readonly startDate?: Date;
  readonly stopDate?: Date;
  /** The state the run is in (or ended in). */
  readonly currentStep?: string;
  /** How many times the teacher step ran (it returns done:false to be called again). */
  readonly teacherCalls: number;
  /** Each finished step's result (counts and flags), as the state machine recorded it. */
  readonly steps: Record<string, Record<string, unknown>>;
  readonly report: string;
  readonly adapter?: { name: string; version: string; location: string };
  readonly error?: string;
  readonly cause?: string;
}

/** The execution ARN of a run: the state machine's ARN with `execution` and the run id. */
export function executionArnOf(stateMachineArn: string, runId: string): string {
  const parts = stateMachineArn.split(':');
  if (parts[5] !== 'stateMachine') throw new OperatorError(`${stateMachineArn} is not a state machine ARN`);
  return [...parts.slice(0, 5), 'execution', parts[6], runId].join(':');
}

/** Reads a run's state: the execution's status, the state it is in, each finished step's counts and where the report goes. */
export async function runStatus(sfn: SFNClient, target: DistillTarget, runId: string): Promise<RunStatus> {
  if (!RUN_ID_PATTERN.test(runId)) throw new OperatorError(`--run-id ${runId}: not a run id (lower-case letters, digits and "-")`);
  const executionArn = executionArnOf(target.stateMachineArn, runId);
  const execution = await attempt(`read run ${runId}`, async () => {
    try {
      return await sfn.send(new DescribeExecutionCommand({ executionArn }));
    } catch (e) {
      if ((e as Error).name === 'ExecutionDoesNotExist') throw new OperatorError(`run ${runId} does not exist (no execution ${executionArn})`);
      throw e;
    }
  });
  const events = await history(sfn, executionArn);
  const entered = events.filter((e) => e.stateEnteredEventDetails?.name);
  // The newest state data that carries step results (a state's input and output are the whole run state).
  const state =
    [...events]
      .reverse()
      .map((e) => parseJson(e.stateExitedEventDetails?.output ?? e.stateEnteredEventDetails?.input))
      .find((data) => data?.steps) ??
    parseJson(execution.output) ??
    {};
  const input = parseJson(execution.input) ?? {};
  const adapter = (input.adapter ?? state.adapter) as { name: string; version: string } | undefined;
  return {
    runId,
    executionArn,
    status: execution.status ?? 'UNKNOWN',
    startDate: execution.startDate,
    stopDate: execution.stopDate,
    currentStep: entered[entered.length - 1]?.stateEnteredEventDetails?.name,
    teacherCalls: entered.filter((e) => e.stateEnteredEventDetails?.name === 'Teacher').length,
    steps: (state.steps as RunStatus['steps']) ?? {},
    report: `s3://${target.bucket}/${DISTILL_PATHS.report(runId)}`,
    ...(adapter && { adapter: { ...adapter, location: `s3://${target.bucket}/${DISTILL_PATHS.adapter(adapter.name, adapter.version)}` } }),
    ...(execution.error && { error: execution.error }),
    ...(execution.cause && { cause: execution.cause }),
  };
}

/** Every event of the execution, oldest first (the history is paged). */
async function history(sfn: SFNClient, executionArn: string): Promise<HistoryEvent[]> {
  const events: HistoryEvent[] = [];
  let nextToken: string | undefined;
  do {
    const page = await attempt('read the run\'s history', () => sfn.send(new GetExecutionHistoryCommand({ executionArn, maxResults: 1000, nextToken, includeExecutionData: true })));
    events.push(...(page.events ?? []));
    nextToken = page.nextToken;
  } while (nextToken);
  return events;
}

function parseJson(text: string | undefined): Record<string, any> | undefined {
  if (!text) return undefined;
  try {
    const value = JSON.parse(text);
    return value && typeof value === 'object' ? value : undefined;
  } catch {
    return undefined;
  }
}

/** The status as an operator reads it. */
export function formatStatus(s: RunStatus): string {
  const lines = [`run ${s.runId}: ${s.status}${s.currentStep ? ` (${s.status === 'RUNNING' ? 'now in' : 'last state'} ${s.currentStep})` : ''}`, `  execution ${s.executionArn}`];
  if (s.startDate) lines.push(`  started ${s.startDate.toISOString()}${s.stopDate ? `, stopped ${s.stopDate.toISOString()}` : ''}`);
  if (s.teacherCalls > 0) lines.push(`  teacher step called ${s.teacherCalls} time${s.teacherCalls === 1 ? '' : 's'}`);
  for (const [step, result] of Object.entries(s.steps)) {
    const counts = Object.entries(result ?? {}).filter(([, v]) => typeof v === 'number' || typeof v === 'boolean' || typeof v === 'string');
    lines.push(`  ${step}: ${counts.map(([k, v]) => `${k} ${v}`).join(', ') || 'done'}`);
  }
  if (s.adapter) lines.push(`  adapter ${s.adapter.name} ${s.adapter.version}: ${s.adapter.location}`);
  lines.push(`  report ${s.report}${s.steps.evaluate ? '' : ' (written by the evaluate step)'}`);
  if (s.error) lines.push(`  error ${s.error}: ${s.cause ?? ''}`);
  return lines.join('\n');
}
