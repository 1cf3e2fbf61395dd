import * as fs from 'fs';
import * as path from 'path';
import { AssetHashType, BundlingOutput, DockerImage } from 'aws-cdk-lib';
import * as s3assets from 'aws-cdk-lib/aws-s3-assets';
import { Construct } from 'constructs';
import { requirementsFile, trainingArchive } from '../distill/training-archive';

export const TRAINING_SOURCE_DIR = path.join(__dirname, '..', '..', 'training');

/** SageMaker puts an input channel's files under /opt/ml/input/data/<channel>/. */
export const CODE_CHANNEL = 'code';

export interface TrainingCodeAssetProps {
  /** @default the repository's training/ */
  readonly sourceDir?: string;
  /** PyPI simple index for `packages` (staging.pipIndexUrl). */
  readonly pipIndexUrl: string;
  /** Pinned packages the training toolkit installs at job start. @default none (no requirements.txt in the archive) */
  readonly packages?: readonly string[];
}

/**
 * The training code (training/) as a `.tar.gz` file asset, the form SageMaker's training toolkit
 * unpacks. Packed in-process at synth (no Docker, no build project): it is a few kilobytes of
 * Python, while the Deep Learning Container it runs in stays AWS's own image, unchanged. The job
 * reads it as an input channel, so it works with network isolation (the container never calls S3).
 */
export class TrainingCodeAsset extends Construct {
  public readonly asset: s3assets.Asset;
  /** `sagemaker_submit_directory`: where the archive lies inside the container. */
  public readonly submitDirectory: string;
  /** The channel's S3 URI: the archive object itself. */
  public readonly s3Uri: string;

  constructor(scope: Construct, id: string, props: TrainingCodeAssetProps) {
    super(scope, id);
    const sourceDir = props.sourceDir ?? TRAINING_SOURCE_DIR;
    const requirements = requirementsFile(props.pipIndexUrl, props.packages ?? []);
    this.asset = new s3assets.Asset(this, 'Archive', {
      path: sourceDir,
      // The hash of the archive itself: the generated requirements.txt counts, caches and local files do not.
      assetHashType: AssetHashType.OUTPUT,
      bundling: {
        // Never pulled: the local bundler below always succeeds.
        image: DockerImage.fromRegistry('local-bundling-only'),
        outputType: BundlingOutput.SINGLE_FILE,
        local: {
          tryBundle(outputDir: string): boolean {
            fs.writeFileSync(path.join(outputDir, 'sourcedir.tgz'), trainingArchive(sourceDir, requirements ? { 'requirements.txt': requirements } : {}));
            return true;
          },
        },
      },
    });
    this.s3Uri = this.asset.s3ObjectUrl;
    this.submitDirectory = `/opt/ml/input/data/${CODE_CHANNEL}/${path.posix.basename(this.asset.s3ObjectKey)}`;
  }
}
