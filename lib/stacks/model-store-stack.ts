import { CfnOutput, Duration, RemovalPolicy } from 'aws-cdk-lib';
import * as ecr from 'aws-cdk-lib/aws-ecr';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as s3 from 'aws-cdk-lib/aws-s3';
import { Construct } from 'constructs';
import { ChinaRegion, ecrRegistryHost } from '../china/china';
import { names } from '../config/names';
import { ModelStagingProject } from '../constructs/model-staging-project';
import { ChinaStack, ChinaStackProps } from './china-stack';
import { kitKey } from '../constructs/kit-key';
import { accessLogBucketProps, kmsBucketProps } from '../constructs/bucket-baseline';

export type ModelStoreStackProps = ChinaStackProps;

/**
 * Where weights and images live inside the region, so nothing is fetched from outside China at boot:
 * a KMS key, a versioned weights bucket with access logs, and private ECR repositories.
 */
export class ModelStoreStack extends ChinaStack {
  public readonly key: kms.Key;
  public readonly weightsBucket: s3.Bucket;
  public readonly accessLogBucket: s3.Bucket;
  /** Keyed by the configured short name (e.g. `vllm`, `tools`). */
  public readonly repositories: Record<string, ecr.Repository> = {};
  /** `<account>.dkr.ecr.<region>.amazonaws.com.cn/<repository>`, keyed like `repositories`. */
  public readonly repositoryUris: Record<string, string> = {};
  /** Stages model weights from inside the region (needs the `tools` repository). */
  public readonly staging?: ModelStagingProject;
  /** `<account>.dkr.ecr.<region>.amazonaws.com.cn`. */
  public readonly registryHost: string;

  constructor(scope: Construct, id: string, props: ModelStoreStackProps) {
    super(scope, id, props);
    const { config } = props;
    const store = config.modelStore;
    const n = names(config);
    const removalPolicy = store.retainOnDelete ? RemovalPolicy.RETAIN : RemovalPolicy.DESTROY;

    this.key = kitKey(this, 'Key', {
      description: `Encrypts model weights and images of ${config.prefix}`,
      alias: `alias/${config.prefix}/model-store`,
      removalPolicy,
    });

    this.accessLogBucket = new s3.Bucket(this, 'AccessLogs', accessLogBucketProps(removalPolicy));

    this.weightsBucket = new s3.Bucket(this, 'Weights', {
      ...kmsBucketProps(this.key, this.accessLogBucket, 'weights/'),
      bucketName: n.weightsBucket,
      lifecycleRules: [
        {
          id: 'expire-replaced-weights',
          noncurrentVersionExpiration: Duration.days(store.noncurrentWeightsExpiryDays),
          abortIncompleteMultipartUploadAfter: Duration.days(7),
        },
      ],
      removalPolicy,
    });

    const registry = ecrRegistryHost(this.account, config.china.region as ChinaRegion);
    this.registryHost = registry;
    for (const name of store.repositories) {
      const repositoryName = n.repository(name);
      const repository = new ecr.Repository(this, `Repository-${name}`, {
        repositoryName,
        imageScanOnPush: true,
        imageTagMutability: ecr.TagMutability.IMMUTABLE,
        encryption: ecr.RepositoryEncryption.KMS,
        encryptionKey: this.key,
        lifecycleRules: [
          { description: 'Drop untagged layers left by re-pushes', tagStatus: ecr.TagStatus.UNTAGGED, maxImageAge: Duration.days(store.untaggedImageExpiryDays) },
          { description: 'Keep the newest tagged images', tagStatus: ecr.TagStatus.ANY, maxImageCount: store.keepTaggedImages },
        ],
        removalPolicy,
        emptyOnDelete: !store.retainOnDelete,
      });
      this.repositories[name] = repository;
      this.repositoryUris[name] = `${registry}/${repositoryName}`;
      new CfnOutput(this, `RepositoryUri-${name}`, {
        value: this.repositoryUris[name],
        description: `Private ECR repository for the ${name} image (push with npm run mirror-images)`,
      });
    }

    if (this.repositories.tools) {
      this.staging = new ModelStagingProject(this, 'Staging', {
        projectName: n.stagingProject,
        weightsBucketName: n.weightsBucket,
        key: this.key,
        toolsRepository: this.repositories.tools,
        toolsTag: config.images.tools.tag,
        pipIndexUrl: config.staging.pipIndexUrl,
        pipPackages: config.staging.pipPackages,
        computeType: config.staging.computeType,
        timeout: Duration.minutes(config.staging.timeoutMinutes),
      });
      new CfnOutput(this, 'StagingProjectName', { value: this.staging.project.projectName, description: 'CodeBuild project npm run stage-model starts' });
    }

    new CfnOutput(this, 'WeightsBucketName', { value: this.weightsBucket.bucketName, description: 'S3 bucket holding staged model weights' });
    new CfnOutput(this, 'KeyArn', { value: this.key.keyArn, description: 'KMS key encrypting weights and images' });
  }
}
