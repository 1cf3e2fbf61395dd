import * as path from 'path';
import { Duration, Stack, Validations } from 'aws-cdk-lib';
import * as codebuild from 'aws-cdk-lib/aws-codebuild';
import * as ecr from 'aws-cdk-lib/aws-ecr';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as s3assets from 'aws-cdk-lib/aws-s3-assets';
import { Construct } from 'constructs';
import { EncryptedLogGroup } from './encrypted-log-group';

export interface ModelStagingProjectProps {
  readonly projectName: string;
  readonly weightsBucketName: string;
  readonly key: kms.IKey;
  readonly toolsRepository: ecr.IRepository;
  readonly toolsTag: string;
  readonly pipIndexUrl: string;
  readonly pipPackages: readonly string[];
  readonly computeType: string;
  readonly timeout: Duration;
}

/** Everything under this prefix of the weights bucket is staged model data. */
export const MODELS_PREFIX = 'models/';

/**
 * A CodeBuild project that stages model weights into the weights bucket from inside the region
 * (runtime/staging/stage-model.sh): ModelScope download, checksum manifest, upload. `npm run
 * stage-model` starts it with the model id and revision.
 */
export class ModelStagingProject extends Construct {
  public readonly project: codebuild.Project;

  constructor(scope: Construct, id: string, props: ModelStagingProjectProps) {
    super(scope, id);
    const stack = Stack.of(this);
    const script = new s3assets.Asset(this, 'Script', { path: path.join(__dirname, '..', '..', 'runtime', 'staging') });
    const logGroup = new EncryptedLogGroup(this, 'Logs', { retentionDays: logs.RetentionDays.ONE_YEAR, purpose: 'model staging build logs', retain: true, key: props.key }).logGroup;

    const bucketArn = stack.formatArn({ service: 's3', region: '', account: '', resource: props.weightsBucketName });
    const modelObjects = `${bucketArn}/${MODELS_PREFIX}*`;
    // An own role that CDK may not widen: the default one grants wildcards on the asset bucket, logs and report groups.
    const role = new iam.Role(this, 'Role', { assumedBy: new iam.ServicePrincipal('codebuild.amazonaws.com'), description: 'cn-llm-kit model staging build' });
    role.addToPolicy(new iam.PolicyStatement({ sid: 'ReadScript', actions: ['s3:GetObject', 's3:GetObjectVersion'], resources: [script.bucket.arnForObjects(script.s3ObjectKey)] }));
    role.addToPolicy(new iam.PolicyStatement({ sid: 'PullToolsImage', actions: ['ecr:BatchCheckLayerAvailability', 'ecr:GetDownloadUrlForLayer', 'ecr:BatchGetImage'], resources: [props.toolsRepository.repositoryArn] }));
    role.addToPolicy(new iam.PolicyStatement({ sid: 'EcrLogin', actions: ['ecr:GetAuthorizationToken'], resources: ['*'] }));
    role.addToPolicy(new iam.PolicyStatement({ sid: 'WriteLogs', actions: ['logs:CreateLogStream', 'logs:PutLogEvents'], resources: [logGroup.logGroupArn] }));
    role.addToPolicy(new iam.PolicyStatement({ sid: 'UseKey', actions: ['kms:Decrypt', 'kms:Encrypt', 'kms:GenerateDataKey'], resources: [props.key.keyArn] }));
    role.addToPolicy(new iam.PolicyStatement({ sid: 'WriteModels', actions: ['s3:PutObject', 's3:GetObject', 's3:AbortMultipartUpload'], resources: [modelObjects] }));
    role.addToPolicy(new iam.PolicyStatement({ sid: 'ListModels', actions: ['s3:ListBucket'], resources: [bucketArn], conditions: { StringLike: { 's3:prefix': [`${MODELS_PREFIX}*`] } } }));
    Validations.of(role).acknowledge({ id: 'AwsSolutions-IAM5[Resource::*]', reason: 'ecr:GetAuthorizationToken has no resource-level permissions; image pulls are limited to the tools repository.' });
    Validations.of(role).acknowledge({
      id: `AwsSolutions-IAM5[Resource::${stack.resolve(modelObjects)}]`,
      reason: 'The staging build writes any model revision, and only under models/ of the weights bucket.',
    });

    this.project = new codebuild.Project(this, 'Project', {
      projectName: props.projectName,
      role: role.withoutPolicyUpdates(),
      description: 'Stages a model revision from ModelScope into the in-region weights bucket (npm run stage-model)',
      source: codebuild.Source.s3({ bucket: script.bucket, path: script.s3ObjectKey }),
      buildSpec: codebuild.BuildSpec.fromObject({ version: '0.2', phases: { build: { commands: ['bash stage-model.sh'] } } }),
      environment: {
        // The image comes from the private ECR in the region (npm run mirror-images), not Docker Hub.
        buildImage: codebuild.LinuxBuildImage.fromEcrRepository(props.toolsRepository, props.toolsTag),
        computeType: props.computeType as codebuild.ComputeType,
        privileged: false,
        environmentVariables: {
          BUCKET: { value: props.weightsBucketName },
          PIP_INDEX_URL: { value: props.pipIndexUrl },
          PIP_PACKAGES: { value: props.pipPackages.join(' ') },
        },
      },
      encryptionKey: props.key,
      timeout: props.timeout,
      logging: { cloudWatch: { logGroup } },
    });

    Validations.of(this.project).acknowledge({
      id: 'AwsSolutions-CB5',
      reason: 'The build needs Python and pip; in China its image is mirrored into the private ECR of the region (no Docker Hub pulls at run time).',
    });
  }
}
