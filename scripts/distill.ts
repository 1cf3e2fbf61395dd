import { SFNClient } from '@aws-sdk/client-sfn';
import { CHINA_PARTITION } from '../lib/china/china';
import { names } from '../lib/config/names';
import { formatStatus, runStatus, startRun } from '../runtime/operator/distill-runs';
import { OperatorError } from '../runtime/operator/operator-error';
import { configFromArgs, flagValue, profileClientConfig, runCli } from './cli-config';

const USAGE = `Usage:
  npm run distill -- start --dataset <name>/<version> [--run-id ID] [--adapter-name NAME] [--adapter-version V] [common options]
  npm run distill -- status --run-id ID [--json] [common options]
Common options: [--china-profile NAME] [--config FILE] [-c key=value ...]

start: starts the Distill stack's state machine (<prefix>-distill) on the prompts uploaded to
s3://<weights bucket>/distill/datasets/<name>/<version>/ (prompts.jsonl, manifest.json). The run id
(default: the UTC time and 4 random hex digits) names the execution, the run's S3 prefix
distill/runs/<run id>/ and the SageMaker job <prefix>-distill-<run id>; starting the same run id
again with the same settings returns the same run. The adapter is adapters/<name>/<version>/
(default: distill.adapterName, version = the run id).
status: the run's state, the step it is in, each finished step's counts, the adapter and report locations.`;

async function main(args: string[]): Promise<void> {
  const command = args[0];
  if (!command || args.includes('--help') || args.includes('-h')) return console.log(USAGE);
  if (command !== 'start' && command !== 'status') throw new OperatorError(`unknown command "${command}": use start or status (--help for details)`);
  const config = configFromArgs(args);
  const n = names(config);
  const target = {
    stateMachineArn: `arn:${CHINA_PARTITION}:states:${config.china.region}:${config.china.account}:stateMachine:${n.distillStateMachine}`,
    bucket: n.weightsBucket,
  };
  const sfn = new SFNClient({ ...(await profileClientConfig(flagValue(args, '--china-profile') ?? 'china', config.china.region)), maxAttempts: 4 });

  if (command === 'start') {
    const dataset = flagValue(args, '--dataset');
    if (!dataset) throw new OperatorError('start needs --dataset <name>/<version> (the prompts under distill/datasets/)');
    const run = await startRun(sfn, target, {
      dataset,
      runId: flagValue(args, '--run-id'),
      adapterName: flagValue(args, '--adapter-name') ?? config.distill.adapterName,
      adapterVersion: flagValue(args, '--adapter-version'),
    });
    console.log(`started run ${run.runId} on dataset ${run.dataset.name}/${run.dataset.version}`);
    console.log(`  execution ${run.executionArn}`);
    console.log(`  adapter   s3://${target.bucket}/adapters/${run.adapter.name}/${run.adapter.version}/`);
    console.log(`  follow it: npm run distill -- status --run-id ${run.runId}`);
    return;
  }
  const runId = flagValue(args, '--run-id');
  if (!runId) throw new OperatorError('status needs --run-id ID (printed by start)');
  const status = await runStatus(sfn, target, runId);
  console.log(args.includes('--json') ? JSON.stringify(status, null, 2) : formatStatus(status));
}

runCli('distill', main);
