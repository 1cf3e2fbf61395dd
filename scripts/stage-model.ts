import { CodeBuildClient } from '@aws-sdk/client-codebuild';
import { S3Client } from '@aws-sdk/client-s3';
import { names } from '../lib/config/names';
import { OperatorError } from '../runtime/operator/operator-error';
import { stageModel } from '../runtime/operator/stage-model';
import { transferClientSettings } from '../runtime/operator/transfer';
import { configFromArgs, flagValue, profileClientConfig, runCli } from './cli-config';

const USAGE = `Usage: npm run stage-model -- --model <served name or id> [--from-dir DIR] [--china-profile NAME] [--config FILE] [-c key=value ...]

Stages a configured model's weights into s3://<prefix>-weights-<account>-<region>/models/<id>/<revision>/
with a manifest (sizes, sha256). Default: from ModelScope, by the model store's CodeBuild project
inside the region. --from-dir uploads a local directory instead: multipart, parts of 16 MiB (larger
for files over 156 GiB), each checked by SHA-256 and retried up to 8 times with backoff; progress on
stderr. Interrupted? Run the same command again within 7 days: complete files are kept and the
unfinished upload continues from the parts S3 already holds. An already staged revision is skipped.`;

async function main(args: string[]): Promise<void> {
  if (args.includes('--help') || args.includes('-h')) return console.log(USAGE);
  const config = configFromArgs(args);
  const wanted = flagValue(args, '--model') ?? (config.models.length === 1 ? config.models[0].servedName : undefined);
  const model = config.models.find((m) => m.servedName === wanted || m.id === wanted);
  if (!model) throw new OperatorError(`--model ${wanted ?? '(missing)'}: name one of the configured models: ${config.models.map((m) => `${m.servedName} (${m.id})`).join(', ')}`);
  const fromDir = flagValue(args, '--from-dir');
  if (!fromDir && model.source === 'local') throw new OperatorError(`${model.servedName} has source "local": pass --from-dir with its files`);
  const n = names(config);
  const client = await profileClientConfig(flagValue(args, '--china-profile') ?? 'china', config.china.region);
  await stageModel(
    { modelId: model.id, revision: model.revision, bucket: n.weightsBucket, prefix: n.modelPrefix(model), projectName: n.stagingProject, region: config.china.region },
    { s3: new S3Client({ ...client, ...transferClientSettings(), forcePathStyle: client.endpoint !== undefined }), codebuild: new CodeBuildClient(client) },
    { fromDir, progress: process.stderr },
  );
}

runCli('stage-model', main);
