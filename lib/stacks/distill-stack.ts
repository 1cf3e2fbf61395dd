import { CfnOutput, Duration } from 'aws-cdk-lib';
import * as apigw from 'aws-cdk-lib/aws-apigateway';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as kms from 'aws-cdk-lib/aws-kms';
import { Construct } from 'constructs';
import { CHINA_DLC_ACCOUNT, ChinaRegion, ecrRegistryHost } from '../china/china';
import { distillBaseModel } from '../config/distill-defaults';
import { names } from '../config/names';
import { DistillPipeline } from '../constructs/distill-pipeline';
import { DistillTraining } from '../constructs/distill-training';
import { kitKey } from '../constructs/kit-key';
import { TrainingCodeAsset } from '../constructs/training-code-asset';
import { DISTILL_PATHS } from '../../runtime/operator/distill-layout';
import { ChinaStack, ChinaStackProps } from './china-stack';

export interface DistillStackProps extends ChinaStackProps {
  readonly vpc: ec2.IVpc;
  readonly subnets: ec2.SubnetSelection;
  /** The model store's key: it encrypts the weights bucket (datasets, runs, adapters) and the training volume. */
  readonly weightsKey: kms.IKey;
  /** The model store's registry host (`<account>.dkr.ecr.<region>.amazonaws.com.cn`), for a mirrored training image. */
  readonly registryHost: string;
  /** The gateway's REST API: teacher, student and judge are called through its chat route. */
  readonly gatewayApi: apigw.RestApi;
  /** The directory packed as the training code. @default the repository's training/ */
  readonly trainingSourceDir?: string;
}

/**
 * Distillation in China: a Step Functions state machine that asks a teacher (through the gateway)
 * for answers to a prompt dataset, trains a LoRA adapter for a self-hosted student on SageMaker,
 * evaluates it with a judge and promotes it when it scores well enough. vLLM hosts then serve it as
 * a model alias of its own (models[].adapters).
 */
export class DistillStack extends ChinaStack {
  public readonly pipeline: DistillPipeline;
  public readonly training: DistillTraining;
  /** The training image reference the jobs run. */
  public readonly trainingImage: string;

  constructor(scope: Construct, id: string, props: DistillStackProps) {
    super(scope, id, props);
    const { config } = props;
    const d = config.distill;
    const n = names(config);
    const region = config.china.region as ChinaRegion;

    const key = kitKey(this, 'Key', { description: `Encrypts the ${config.prefix} distillation pipeline's logs, state and Lambda environment` });
    const base = distillBaseModel(config);
    const mirrored = d.training.image === 'mirror';
    this.trainingImage = mirrored
      ? n.pinnedImage(props.registryHost, 'training')
      : `${ecrRegistryHost(CHINA_DLC_ACCOUNT, region)}/${d.training.dlcRepository}:${config.images.training.tag}`;
    const imageRepositoryArn = mirrored
      ? this.formatArn({ service: 'ecr', resource: 'repository', resourceName: n.repository('training') })
      : this.formatArn({ service: 'ecr', account: CHINA_DLC_ACCOUNT, resource: 'repository', resourceName: d.training.dlcRepository });

    const code = new TrainingCodeAsset(this, 'TrainingCode', { sourceDir: props.trainingSourceDir, pipIndexUrl: config.staging.pipIndexUrl, packages: d.training.pipPackages });
    this.training = new DistillTraining(this, 'Training', {
      prefix: config.prefix,
      vpc: props.vpc,
      subnets: props.subnets,
      weightsBucketName: n.weightsBucket,
      weightsKey: props.weightsKey,
      baseModelPrefix: n.modelPrefix(base),
      image: this.trainingImage,
      imageRepositoryArn,
      instanceType: d.training.instanceType,
      volumeGiB: d.training.volumeGiB,
      maxRuntime: Duration.hours(d.training.maxRuntimeHours),
      networkIsolation: d.training.networkIsolation,
      hyperParameters: { lora_r: d.training.loraR, lora_alpha: d.training.loraAlpha, epochs: d.training.epochs, learning_rate: d.training.learningRate, max_seq_len: d.training.maxSeqLen },
      // What the adapter's manifest.json records of its origin (train_lora.py's text hyper-parameters).
      manifestFacts: { base_model: base.id, base_revision: base.revision, teacher: d.teacher },
      code,
    });

    this.pipeline = new DistillPipeline(this, 'Pipeline', {
      prefix: config.prefix,
      stateMachineName: n.distillStateMachine,
      vpc: props.vpc,
      subnets: props.subnets,
      weightsBucketName: n.weightsBucket,
      weightsKey: props.weightsKey,
      key,
      gatewayApi: props.gatewayApi,
      steps: { teacher: d.teacher, student: d.studentAlias, judge: d.judge, samplesPerPrompt: d.samplesPerPrompt, evalShare: d.evalShare, concurrency: d.concurrency, promoteThreshold: d.promoteThreshold },
      training: this.training,
      runtime: config.lambda.runtime,
      architecture: config.lambda.architecture,
      stepTimeout: Duration.seconds(d.stepTimeoutSeconds),
      stepMemoryMb: d.stepMemoryMb,
      maxRun: Duration.hours(d.maxRunHours),
      logRetentionDays: d.logRetentionDays,
    });

    new CfnOutput(this, 'StateMachineArn', { value: this.pipeline.stateMachine.stateMachineArn, description: 'Distillation state machine: npm run distill -- start starts it' });
    new CfnOutput(this, 'DatasetsPrefix', { value: `s3://${n.weightsBucket}/${DISTILL_PATHS.datasets}`, description: 'Upload prompts here: <name>/<version>/prompts.jsonl and manifest.json' });
    new CfnOutput(this, 'TrainingImage', { value: this.trainingImage, description: 'The image the SageMaker training jobs run' });
  }
}
