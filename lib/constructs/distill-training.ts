import { ArnFormat, Duration, Stack, Validations } from 'aws-cdk-lib';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as sfn from 'aws-cdk-lib/aws-stepfunctions';
import { Construct } from 'constructs';
import { CODE_CHANNEL, TrainingCodeAsset } from './training-code-asset';
import { TRAINING_ENTRY_POINT } from '../distill/training-archive';
import { DISTILL_PATHS } from '../../runtime/operator/distill-layout';

/** SageMaker's service principal is the global form in China too (CDK's region table; IAM's iam:PassedToService value). */
export const SAGEMAKER_PRINCIPAL = 'sagemaker.amazonaws.com';

export interface DistillTrainingProps {
  readonly prefix: string;
  readonly vpc: ec2.IVpc;
  readonly subnets: ec2.SubnetSelection;
  readonly weightsBucketName: string;
  /** Encrypts the weights bucket: inputs, the job's output and its volume. */
  readonly weightsKey: kms.IKey;
  /** `models/<id>/<revision>/` of the student's base model. */
  readonly baseModelPrefix: string;
  /** Full image reference (DLC account or private ECR) and the repository ARN it pulls from. */
  readonly image: string;
  readonly imageRepositoryArn: string;
  readonly instanceType: string;
  readonly volumeGiB: number;
  readonly maxRuntime: Duration;
  readonly networkIsolation: boolean;
  /** train_lora.py's hyper-parameters (contract: lora_r, lora_alpha, epochs, learning_rate, max_seq_len). */
  readonly hyperParameters: Readonly<Record<string, number>>;
  /** Text hyper-parameters train_lora.py writes into the adapter's manifest (base_model, base_revision, teacher); dataset_version comes from the execution's input. */
  readonly manifestFacts: Readonly<Record<'base_model' | 'base_revision' | 'teacher', string>>;
  readonly code: TrainingCodeAsset;
}

/**
 * The LoRA training step: a SageMaker training job run to completion by Step Functions' optimized
 * integration (`createTrainingJob.sync`), in the kit's private subnets, with KMS on volume and
 * output, and its own execution role that reads only the run's dataset, the base model and the code.
 *
 * The state is written out rather than built with CDK's SageMakerCreateTrainingJob, which for a
 * per-run job name grants sagemaker:*TrainingJob on `training-job/*` and sagemaker:ListTags on `*`,
 * and cannot ask for uncompressed output (CompressionType NONE): the adapter's files must land as
 * files, not as one model.tar.gz, to be copied into adapters/<name>/<version>/.
 */
export class DistillTraining extends Construct {
  public readonly role: iam.Role;
  public readonly securityGroup: ec2.SecurityGroup;
  /** Training jobs of this kit: `<prefix>-distill-<run id>` (SageMaker lower-cases names in ARNs). */
  public readonly jobNamePrefix: string;

  constructor(scope: Construct, id: string, private readonly props: DistillTrainingProps) {
    super(scope, id);
    const stack = Stack.of(this);
    this.jobNamePrefix = `${props.prefix}-distill-`;
    const bucketArn = stack.formatArn({ service: 's3', region: '', account: '', resource: props.weightsBucketName });

    this.securityGroup = new ec2.SecurityGroup(this, 'SecurityGroup', {
      vpc: props.vpc,
      description: 'Distillation training jobs: HTTPS out only (S3 through its gateway endpoint; pip index through NAT when networkIsolation is off)',
      allowAllOutbound: false,
    });
    this.securityGroup.addEgressRule(ec2.Peer.anyIpv4(), ec2.Port.tcp(443), 'HTTPS to S3 and the configured pip index');

    this.role = new iam.Role(this, 'ExecutionRole', { assumedBy: new iam.ServicePrincipal(SAGEMAKER_PRINCIPAL), description: `${props.prefix} distillation training jobs` });
    const runs = `${bucketArn}/${DISTILL_PATHS.runs}*`;
    this.role.addToPolicy(
      new iam.PolicyStatement({
        sid: 'ReadDatasetAndBaseModel',
        actions: ['s3:GetObject'],
        resources: [`${runs}/dataset/*`, `${bucketArn}/${props.baseModelPrefix}*`],
      }),
    );
    this.role.addToPolicy(
      new iam.PolicyStatement({
        sid: 'ListDatasetAndBaseModel',
        actions: ['s3:ListBucket'],
        resources: [bucketArn],
        conditions: { StringLike: { 's3:prefix': [`${DISTILL_PATHS.runs}*/dataset/*`, `${props.baseModelPrefix}*`] } },
      }),
    );
    this.role.addToPolicy(new iam.PolicyStatement({ sid: 'WriteTrainingOutput', actions: ['s3:PutObject', 's3:AbortMultipartUpload'], resources: [`${runs}/training/*`] }));
    const code = props.code.asset;
    this.role.addToPolicy(new iam.PolicyStatement({ sid: 'ReadTrainingCode', actions: ['s3:GetObject'], resources: [code.bucket.arnForObjects(code.s3ObjectKey)] }));
    this.role.addToPolicy(
      new iam.PolicyStatement({ sid: 'ListTrainingCode', actions: ['s3:ListBucket'], resources: [code.bucket.bucketArn], conditions: { StringEquals: { 's3:prefix': code.s3ObjectKey } } }),
    );
    grantKeyUse(props.weightsKey, this.role);
    // The training volume: SageMaker creates a grant for the instance's EBS volume.
    this.role.addToPolicy(
      new iam.PolicyStatement({ sid: 'EncryptTrainingVolume', actions: ['kms:CreateGrant'], resources: [props.weightsKey.keyArn], conditions: { Bool: { 'kms:GrantIsForAWSResource': 'true' } } }),
    );
    this.role.addToPolicy(
      new iam.PolicyStatement({ sid: 'PullTrainingImage', actions: ['ecr:BatchGetImage', 'ecr:GetDownloadUrlForLayer', 'ecr:BatchCheckLayerAvailability'], resources: [props.imageRepositoryArn] }),
    );
    this.role.addToPolicy(
      new iam.PolicyStatement({
        sid: 'TrainingLogs',
        actions: ['logs:CreateLogGroup', 'logs:CreateLogStream', 'logs:PutLogEvents', 'logs:DescribeLogStreams'],
        resources: [stack.formatArn({ service: 'logs', resource: 'log-group', resourceName: '/aws/sagemaker/TrainingJobs:*', arnFormat: ArnFormat.COLON_RESOURCE_NAME })],
      }),
    );
    this.role.addToPolicy(
      new iam.PolicyStatement({ sid: 'TrainingMetrics', actions: ['cloudwatch:PutMetricData'], resources: ['*'], conditions: { StringEquals: { 'cloudwatch:namespace': '/aws/sagemaker/TrainingJobs' } } }),
    );
    this.role.addToPolicy(new iam.PolicyStatement({ sid: 'RegistryLogin', actions: ['ecr:GetAuthorizationToken'], resources: ['*'] }));
    this.role.addToPolicy(
      new iam.PolicyStatement({
        sid: 'TrainingInVpc',
        actions: [
          'ec2:CreateNetworkInterface',
          'ec2:CreateNetworkInterfacePermission',
          'ec2:DeleteNetworkInterface',
          'ec2:DeleteNetworkInterfacePermission',
          'ec2:DescribeNetworkInterfaces',
          'ec2:DescribeVpcs',
          'ec2:DescribeDhcpOptions',
          'ec2:DescribeSubnets',
          'ec2:DescribeSecurityGroups',
        ],
        resources: ['*'],
      }),
    );
    Validations.of(this.role).acknowledge({
      id: 'AwsSolutions-IAM5[Resource::*]',
      reason: 'ecr:GetAuthorizationToken and the EC2 network-interface actions SageMaker needs for a job in a VPC have no resource-level permissions; cloudwatch:PutMetricData is limited to SageMaker\'s training namespace by condition.',
    });
    const trainingLogs = stack.formatArn({ service: 'logs', resource: 'log-group', resourceName: '/aws/sagemaker/TrainingJobs:*', arnFormat: ArnFormat.COLON_RESOURCE_NAME });
    for (const resource of [`${runs}/dataset/*`, `${runs}/training/*`, `${bucketArn}/${props.baseModelPrefix}*`, trainingLogs]) {
      Validations.of(this.role).acknowledge({
        id: `AwsSolutions-IAM5[Resource::${stack.resolve(resource)}]`,
        reason: 'Object wildcards under one prefix: the runs\' datasets (read) and training outputs (write), the base model revision\'s files (read), SageMaker\'s own training log group.',
      });
    }
  }

  /** The training state: JSONPath input `$.runId`; its result (job name, status, billable seconds, output location) at `resultPath`. */
  state(scope: Construct, id: string, resultPath: string): sfn.CustomState {
    const { props } = this;
    const stack = Stack.of(scope);
    const s3 = (key: string) => `s3://${props.weightsBucketName}/${key}`;
    const subnets = props.vpc.selectSubnets(props.subnets).subnetIds;
    const hours = props.maxRuntime.toSeconds();
    return new sfn.CustomState(scope, id, {
      stateJson: {
        Type: 'Task',
        Resource: `arn:${stack.partition}:states:::sagemaker:createTrainingJob.sync`,
        Parameters: {
          'TrainingJobName.$': `States.Format('${this.jobNamePrefix}{}', $.runId)`,
          RoleArn: this.role.roleArn,
          AlgorithmSpecification: { TrainingImage: props.image, TrainingInputMode: 'File' },
          // SageMaker passes hyper-parameters as strings (and to the script as --name value, and in SM_HPS).
          HyperParameters: {
            sagemaker_program: TRAINING_ENTRY_POINT,
            sagemaker_submit_directory: props.code.submitDirectory,
            sagemaker_region: stack.region,
            ...Object.fromEntries(Object.entries(props.hyperParameters).map(([k, v]) => [k, String(v)])),
            ...props.manifestFacts,
            'dataset_version.$': "States.Format('{}/{}', $.dataset.name, $.dataset.version)",
          },
          InputDataConfig: [
            channel('train', { 'S3Uri.$': `States.Format('${s3(DISTILL_PATHS.runs)}{}/dataset/', $.runId)` }),
            channel('model', { S3Uri: s3(props.baseModelPrefix) }),
            channel(CODE_CHANNEL, { S3Uri: props.code.s3Uri }),
          ],
          OutputDataConfig: {
            'S3OutputPath.$': `States.Format('${s3(DISTILL_PATHS.runs)}{}/training/', $.runId)`,
            KmsKeyId: props.weightsKey.keyArn,
            // Files as they are in SM_MODEL_DIR, not model.tar.gz: they are copied to adapters/ next.
            CompressionType: 'NONE',
          },
          ResourceConfig: { InstanceCount: 1, InstanceType: props.instanceType, VolumeSizeInGB: props.volumeGiB, VolumeKmsKeyId: props.weightsKey.keyArn },
          StoppingCondition: { MaxRuntimeInSeconds: hours },
          VpcConfig: { SecurityGroupIds: [this.securityGroup.securityGroupId], Subnets: subnets },
          EnableNetworkIsolation: props.networkIsolation,
          EnableInterContainerTrafficEncryption: true,
          // Nothing may be fetched from a model hub (unreachable from China); the base model is the "model" channel.
          Environment: { HF_HUB_OFFLINE: '1', TRANSFORMERS_OFFLINE: '1', HF_DATASETS_OFFLINE: '1' },
        },
        ResultSelector: {
          'TrainingJobName.$': '$.TrainingJobName',
          'TrainingJobStatus.$': '$.TrainingJobStatus',
          'BillableTimeInSeconds.$': '$.BillableTimeInSeconds',
          'S3ModelArtifacts.$': '$.ModelArtifacts.S3ModelArtifacts',
        },
        ResultPath: resultPath,
        // The job's own limit plus time to provision the instance and upload the output.
        TimeoutSeconds: hours + 3600,
      },
    });
  }

  /** What the state machine's role needs for the training state: this kit's jobs only, this role only, and the .sync event rule. */
  grantRun(role: iam.IRole): void {
    const stack = Stack.of(this);
    role.addToPrincipalPolicy(
      new iam.PolicyStatement({
        sid: 'RunTrainingJobs',
        actions: ['sagemaker:CreateTrainingJob', 'sagemaker:DescribeTrainingJob', 'sagemaker:StopTrainingJob'],
        resources: [stack.formatArn({ service: 'sagemaker', resource: 'training-job', resourceName: `${this.jobNamePrefix}*` })],
      }),
    );
    role.addToPrincipalPolicy(
      new iam.PolicyStatement({
        sid: 'PassTrainingRole',
        actions: ['iam:PassRole'],
        resources: [this.role.roleArn],
        conditions: { StringEquals: { 'iam:PassedToService': SAGEMAKER_PRINCIPAL } },
      }),
    );
    // .sync follows the job through a rule Step Functions manages in the account.
    role.addToPrincipalPolicy(
      new iam.PolicyStatement({
        sid: 'FollowTrainingJobs',
        actions: ['events:PutTargets', 'events:PutRule', 'events:DescribeRule'],
        resources: [stack.formatArn({ service: 'events', resource: 'rule', resourceName: 'StepFunctionsGetEventsForSageMakerTrainingJobsRule' })],
      }),
    );
    Validations.of(role).acknowledge({
      id: `AwsSolutions-IAM5[Resource::${stack.resolve(stack.formatArn({ service: 'sagemaker', resource: 'training-job', resourceName: `${this.jobNamePrefix}*` }))}]`,
      reason: `Training jobs are named per run (${this.jobNamePrefix}<run id>): the wildcard covers this kit's distillation jobs only.`,
    });
  }
}

/**
 * Data-key use of a key without CDK's wildcard actions (kms:GenerateDataKey*, kms:ReEncrypt*): the
 * S3 and SageMaker encryption paths need exactly these. The key policy of the kit's keys delegates to IAM.
 */
export function grantKeyUse(key: kms.IKey, role: iam.IRole): void {
  role.addToPrincipalPolicy(new iam.PolicyStatement({ sid: 'UseWeightsKey', actions: ['kms:Decrypt', 'kms:Encrypt', 'kms:GenerateDataKey', 'kms:DescribeKey'], resources: [key.keyArn] }));
}

function channel(name: string, location: Record<string, string>) {
  return { ChannelName: name, InputMode: 'File', DataSource: { S3DataSource: { S3DataType: 'S3Prefix', S3DataDistributionType: 'FullyReplicated', ...location } } };
}
