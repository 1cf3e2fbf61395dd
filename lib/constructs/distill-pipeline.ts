import * as path from 'path';
import { Duration, Stack, Validations } from 'aws-cdk-lib';
import * as apigw from 'aws-cdk-lib/aws-apigateway';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import { NodejsFunction, OutputFormat } from 'aws-cdk-lib/aws-lambda-nodejs';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as sfn from 'aws-cdk-lib/aws-stepfunctions';
import * as tasks from 'aws-cdk-lib/aws-stepfunctions-tasks';
import { Construct } from 'constructs';
import { DISTILL_PATHS } from '../../runtime/operator/distill-layout';
import { GATEWAY_BUNDLE } from '../gateway/bundle';
import { DistillTraining, grantKeyUse } from './distill-training';
import { EncryptedLogGroup } from './encrypted-log-group';
import { nodeLambdaPlatform } from './lambda-platform';

export const STEP_HANDLER_ENTRY = path.join(__dirname, '..', '..', 'runtime', 'distill', 'step-handler.ts');

/** The chat route the step handler calls teacher, student and judge through (nothing else of the gateway). */
const CHAT_ROUTE = { method: 'POST', path: '/v1/chat/completions' } as const;

/** Settings every step receives (contract: runtime/distill/step-handler.ts's event, besides step, runId and dataset). */
export interface DistillStepSettings {
  readonly teacher: string;
  readonly student: string;
  readonly judge: string;
  readonly samplesPerPrompt: number;
  readonly evalShare: number;
  readonly concurrency: number;
  readonly promoteThreshold: number;
}

export interface DistillPipelineProps {
  readonly prefix: string;
  readonly stateMachineName: string;
  readonly vpc: ec2.IVpc;
  readonly subnets: ec2.SubnetSelection;
  readonly weightsBucketName: string;
  readonly weightsKey: kms.IKey;
  /** Encrypts the pipeline's logs and the Lambda's environment. */
  readonly key: kms.IKey;
  /** The gateway's REST API: the step handler may invoke its chat route and nothing else. */
  readonly gatewayApi: apigw.RestApi;
  readonly steps: DistillStepSettings;
  readonly training: DistillTraining;
  readonly runtime: string;
  readonly architecture: 'x86_64' | 'arm64';
  readonly stepTimeout: Duration;
  readonly stepMemoryMb: number;
  readonly maxRun: Duration;
  readonly logRetentionDays: number;
}

/** Where each step's result lands in the execution's state (what `npm run distill -- status` reads). */
export const RESULT_PATHS = { export: '$.steps.export', teacher: '$.steps.teacher', split: '$.steps.split', training: '$.steps.training', publish: '$.steps.publish', evaluate: '$.steps.evaluate' } as const;

/**
 * The distillation run as a Step Functions state machine, with only integrations the China regions
 * have (no HTTP task): Lambda for export, the teacher loop, split and evaluation (the step handler
 * calls the gateway itself, SigV4-signed), SageMaker `.sync` for training, S3 SDK calls to publish
 * the adapter and write its promotion marker.
 *
 * Execution input: `{ runId, dataset: { name, version }, adapter: { name, version } }`.
 */
export class DistillPipeline extends Construct {
  public readonly stateMachine: sfn.StateMachine;
  public readonly stepFunction: NodejsFunction;
  public readonly logGroup: logs.LogGroup;

  constructor(scope: Construct, id: string, props: DistillPipelineProps) {
    super(scope, id);
    const stack = Stack.of(this);
    const bucket = props.weightsBucketName;
    const bucketArn = stack.formatArn({ service: 's3', region: '', account: '', resource: bucket });

    this.stepFunction = this.createStepFunction(props, bucketArn);

    const stepPayload = (step: 'export' | 'teacher' | 'split' | 'evaluate') =>
      sfn.TaskInput.fromObject({
        step,
        runId: sfn.JsonPath.stringAt('$.runId'),
        bucket,
        dataset: sfn.JsonPath.objectAt('$.dataset'),
        gatewayUrl: `${props.gatewayApi.urlForPath('/v1')}`,
        ...props.steps,
      });
    const step = (name: string, kind: 'export' | 'teacher' | 'split' | 'evaluate', comment: string) => {
      const task = new tasks.LambdaInvoke(this, name, {
        lambdaFunction: this.stepFunction,
        payload: stepPayload(kind),
        payloadResponseOnly: true,
        resultPath: RESULT_PATHS[kind],
        comment,
        // The handler returns a minute before its own deadline (contract); this is the backstop.
        taskTimeout: sfn.Timeout.duration(props.stepTimeout.plus(Duration.minutes(1))),
        retryOnServiceExceptions: true,
      });
      // Faults of the handler (a gateway or S3 hiccup): a few tries with growing, jittered waits. Steps are resumable by contract.
      task.addRetry({ errors: ['States.TaskFailed', 'States.Timeout'], interval: Duration.seconds(30), backoffRate: 2, maxAttempts: 3, jitterStrategy: sfn.JitterType.FULL });
      return task;
    };

    const exportPrompts = step('Export', 'export', 'Copies the dataset\'s prompts into the run (refused unless its manifest allows export)');
    const teacher = step('Teacher', 'teacher', 'Asks the teacher through the gateway until every prompt is answered; returns done:false to be called again');
    const split = step('Split', 'split', 'Writes dataset/train.jsonl and dataset/eval.jsonl');
    const evaluate = step('Evaluate', 'evaluate', 'Judges the adapter against the teacher on the held-out prompts; writes eval/report.md and report.json');
    const train = props.training.state(this, 'Train', RESULT_PATHS.training);
    train.addRetry({ errors: ['SageMaker.AmazonSageMakerException', 'ThrottlingException'], interval: Duration.minutes(1), backoffRate: 2, maxAttempts: 3, jitterStrategy: sfn.JitterType.FULL });

    // SageMaker wrote the adapter under the run (training/<job>/output/model/); copy its files to adapters/<name>/<version>/.
    // Written out (not CallAwsService) so that its s3:ListBucket grant can carry the prefix condition.
    const listAdapterFiles = new sfn.CustomState(this, 'ListAdapterFiles', {
      stateJson: {
        Type: 'Task',
        Resource: `arn:${stack.partition}:states:::aws-sdk:s3:listObjectsV2`,
        Parameters: {
          Bucket: bucket,
          'Prefix.$': `States.Format('${DISTILL_PATHS.runs}{}/training/{}/output/model/', $.runId, $.steps.training.TrainingJobName)`,
        },
        ResultSelector: { 'keys.$': '$.Contents[*].Key' },
        ResultPath: RESULT_PATHS.publish,
        TimeoutSeconds: 120,
      },
    });
    const copyAdapterFile = new tasks.CallAwsService(this, 'CopyAdapterFile', {
      service: 's3',
      action: 'copyObject',
      parameters: {
        Bucket: bucket,
        CopySource: sfn.JsonPath.format(`${bucket}/{}`, sfn.JsonPath.stringAt('$.key')),
        // The file name: the last "/"-separated part of the key (the adapter directory is flat).
        'Key.$': `States.Format('${DISTILL_PATHS.adapters}{}/{}/{}', $.adapter.name, $.adapter.version, States.ArrayGetItem(States.StringSplit($.key, '/'), States.MathAdd(States.ArrayLength(States.StringSplit($.key, '/')), -1)))`,
      },
      iamResources: [`${bucketArn}/${DISTILL_PATHS.runs}*/training/*`],
      iamAction: 's3:GetObject',
      additionalIamStatements: [new iam.PolicyStatement({ actions: ['s3:PutObject'], resources: [`${bucketArn}/${DISTILL_PATHS.adapters}*`] })],
      taskTimeout: sfn.Timeout.duration(Duration.minutes(5)),
    });
    copyAdapterFile.addRetry({ errors: ['States.TaskFailed'], interval: Duration.seconds(5), backoffRate: 2, maxAttempts: 4, jitterStrategy: sfn.JitterType.FULL });
    const publish = new sfn.Map(this, 'PublishAdapter', {
      comment: 'Copies the adapter files to adapters/<name>/<version>/',
      itemsPath: '$.steps.publish.keys',
      itemSelector: { 'key.$': '$$.Map.Item.Value', 'adapter.$': '$.adapter' },
      maxConcurrency: 4,
      resultPath: sfn.JsonPath.DISCARD,
    });
    publish.itemProcessor(copyAdapterFile);

    const promotion = new sfn.Pass(this, 'DescribePromotion', {
      parameters: {
        'runId.$': '$.runId',
        'adapter.$': '$.adapter',
        'dataset.$': '$.dataset',
        'score.$': '$.steps.evaluate.score',
        'winRate.$': '$.steps.evaluate.winRate',
        report: sfn.JsonPath.format(`s3://${bucket}/${DISTILL_PATHS.runs}{}/eval/report.md`, sfn.JsonPath.stringAt('$.runId')),
        'trainingJob.$': '$.steps.training.TrainingJobName',
        'promotedAt.$': '$$.State.EnteredTime',
      },
      resultPath: '$.promotion',
    });
    const promote = new tasks.CallAwsService(this, 'Promote', {
      comment: 'Writes adapters/<name>/<version>/promoted.json: vLLM hosts serve the adapter from now on',
      service: 's3',
      action: 'putObject',
      parameters: {
        Bucket: bucket,
        Key: sfn.JsonPath.format(`${DISTILL_PATHS.adapters}{}/{}/${DISTILL_PATHS.promotedMarker}`, sfn.JsonPath.stringAt('$.adapter.name'), sfn.JsonPath.stringAt('$.adapter.version')),
        Body: sfn.JsonPath.jsonToString(sfn.JsonPath.objectAt('$.promotion')),
        ContentType: 'application/json',
      },
      iamResources: [`${bucketArn}/${DISTILL_PATHS.adapters}*`],
      iamAction: 's3:PutObject',
      resultPath: sfn.JsonPath.DISCARD,
      taskTimeout: sfn.Timeout.duration(Duration.minutes(2)),
    });
    promote.addRetry({ errors: ['States.TaskFailed'], interval: Duration.seconds(5), backoffRate: 2, maxAttempts: 4, jitterStrategy: sfn.JitterType.FULL });

    const rejection = new sfn.Pass(this, 'DescribeRejection', {
      parameters: {
        cause: sfn.JsonPath.format(
          `score {} (win rate {}) is below promoteThreshold ${props.steps.promoteThreshold}; the adapter stays unpromoted at s3://${bucket}/${DISTILL_PATHS.adapters}{}/{}/; report: s3://${bucket}/${DISTILL_PATHS.runs}{}/eval/report.md`,
          sfn.JsonPath.stringAt('$.steps.evaluate.score'),
          sfn.JsonPath.stringAt('$.steps.evaluate.winRate'),
          sfn.JsonPath.stringAt('$.adapter.name'),
          sfn.JsonPath.stringAt('$.adapter.version'),
          sfn.JsonPath.stringAt('$.runId'),
        ),
      },
      resultPath: '$.rejection',
    });
    const notPromoted = new sfn.Fail(this, 'NotPromoted', { error: 'AdapterNotPromoted', causePath: '$.rejection.cause' });

    const teacherDone = new sfn.Choice(this, 'TeacherDone?')
      .when(sfn.Condition.booleanEquals('$.steps.teacher.done', false), teacher)
      .otherwise(split.next(train).next(listAdapterFiles).next(publish).next(evaluate).next(
        // The evaluation, like the teacher, stops before the Lambda's deadline with done:false and is called again.
        new sfn.Choice(this, 'EvaluateDone?')
          .when(sfn.Condition.booleanEquals('$.steps.evaluate.done', false), evaluate)
          .otherwise(
            new sfn.Choice(this, 'Promote?')
              .when(sfn.Condition.and(sfn.Condition.isPresent('$.steps.evaluate.promote'), sfn.Condition.booleanEquals('$.steps.evaluate.promote', true)), promotion.next(promote).next(new sfn.Succeed(this, 'Promoted')))
              .otherwise(rejection.next(notPromoted)),
          ),
      ));

    this.logGroup = new EncryptedLogGroup(this, 'Logs', { retentionDays: props.logRetentionDays as logs.RetentionDays, purpose: 'distillation state machine logs', retain: true, key: props.key }).logGroup;
    this.stateMachine = new sfn.StateMachine(this, 'StateMachine', {
      stateMachineName: props.stateMachineName,
      comment: 'cn-llm-kit distillation: export -> teacher (loop) -> split -> SageMaker training -> publish -> evaluate -> promote',
      definitionBody: sfn.DefinitionBody.fromChainable(exportPrompts.next(teacher).next(teacherDone)),
      timeout: props.maxRun,
      tracingEnabled: true,
      // Every event, without step inputs and outputs: they carry dataset names and counts only, but the rule is no data in logs.
      logs: { destination: this.logGroup, level: sfn.LogLevel.ALL, includeExecutionData: false },
      encryptionConfiguration: new sfn.CustomerManagedEncryptionConfiguration(props.key, Duration.minutes(5)),
    });
    props.training.grantRun(this.stateMachine.role);
    this.stateMachine.addToRolePolicy(
      new iam.PolicyStatement({
        sid: 'ListTrainingOutput',
        actions: ['s3:ListBucket'],
        resources: [bucketArn],
        conditions: { StringLike: { 's3:prefix': [`${DISTILL_PATHS.runs}*/training/*`] } },
      }),
    );
    grantKeyUse(props.weightsKey, this.stateMachine.role);
    this.acknowledgeStateMachineRole(bucketArn);
  }

  private createStepFunction(props: DistillPipelineProps, bucketArn: string): NodejsFunction {
    const stack = Stack.of(this);
    const logGroup = new EncryptedLogGroup(this, 'StepLogs', { retentionDays: props.logRetentionDays as logs.RetentionDays, purpose: 'distillation step handler logs', retain: true, key: props.key }).logGroup;
    const securityGroup = new ec2.SecurityGroup(this, 'StepSecurityGroup', {
      vpc: props.vpc,
      description: 'Distillation step handler: HTTPS out only (the gateway, S3 through its endpoint)',
      allowAllOutbound: false,
    });
    securityGroup.addEgressRule(ec2.Peer.anyIpv4(), ec2.Port.tcp(443), 'HTTPS to the gateway API and AWS endpoints');

    const role = new iam.Role(this, 'StepRole', { assumedBy: new iam.ServicePrincipal('lambda.amazonaws.com'), description: `${props.prefix} distillation step handler` });
    role.addToPolicy(new iam.PolicyStatement({ sid: 'Logs', actions: ['logs:CreateLogStream', 'logs:PutLogEvents'], resources: [logGroup.logGroupArn] }));
    role.addToPolicy(
      new iam.PolicyStatement({
        sid: 'NetworkInterfaces',
        actions: ['ec2:CreateNetworkInterface', 'ec2:DescribeNetworkInterfaces', 'ec2:DescribeSubnets', 'ec2:DeleteNetworkInterface', 'ec2:AssignPrivateIpAddresses', 'ec2:UnassignPrivateIpAddresses'],
        resources: ['*'],
      }),
    );
    const datasets = `${bucketArn}/${DISTILL_PATHS.datasets}*`;
    const runs = `${bucketArn}/${DISTILL_PATHS.runs}*`;
    role.addToPolicy(new iam.PolicyStatement({ sid: 'ReadDatasetsAndRuns', actions: ['s3:GetObject'], resources: [datasets, runs] }));
    role.addToPolicy(new iam.PolicyStatement({ sid: 'WriteRuns', actions: ['s3:PutObject', 's3:AbortMultipartUpload'], resources: [runs] }));
    role.addToPolicy(
      new iam.PolicyStatement({ sid: 'ListDatasetsAndRuns', actions: ['s3:ListBucket'], resources: [bucketArn], conditions: { StringLike: { 's3:prefix': [`${DISTILL_PATHS.datasets}*`, `${DISTILL_PATHS.runs}*`] } } }),
    );
    grantKeyUse(props.weightsKey, role);
    const chat = props.gatewayApi.arnForExecuteApi(CHAT_ROUTE.method, CHAT_ROUTE.path, props.gatewayApi.deploymentStage.stageName);
    role.addToPolicy(new iam.PolicyStatement({ sid: 'CallGatewayChat', actions: ['execute-api:Invoke'], resources: [chat] }));
    Validations.of(role).acknowledge({
      id: 'AwsSolutions-IAM5[Resource::*]',
      reason: 'A Lambda in a VPC manages its network interfaces; EC2 supports no resource-level permissions for these Describe/Create ENI actions.',
    });
    for (const resource of [datasets, runs]) {
      Validations.of(role).acknowledge({
        id: `AwsSolutions-IAM5[Resource::${stack.resolve(resource)}]`,
        reason: 'The step handler reads the prompt datasets and reads and writes run directories, each a prefix of the weights bucket named per dataset and run at run time.',
      });
    }

    return new NodejsFunction(this, 'StepHandler', {
      entry: STEP_HANDLER_ENTRY,
      handler: 'handler',
      ...nodeLambdaPlatform(props.runtime, props.architecture),
      memorySize: props.stepMemoryMb,
      timeout: props.stepTimeout,
      role,
      vpc: props.vpc,
      vpcSubnets: props.subnets,
      securityGroups: [securityGroup],
      logGroup,
      environment: { NODE_OPTIONS: '--enable-source-maps' },
      environmentEncryption: props.key,
      description: `cn-llm-kit distillation steps (export, teacher, split, evaluate) for ${props.prefix}`,
      bundling: { minify: GATEWAY_BUNDLE.minify, sourceMap: GATEWAY_BUNDLE.sourceMap, format: OutputFormat.CJS, target: GATEWAY_BUNDLE.target, mainFields: GATEWAY_BUNDLE.mainFields, externalModules: [] },
    });
  }

  private acknowledgeStateMachineRole(bucketArn: string) {
    const stack = Stack.of(this);
    const role = this.stateMachine.role;
    Validations.of(role).acknowledge({
      id: 'AwsSolutions-IAM5[Resource::*]',
      reason: 'Step Functions\' log delivery (logs:*LogDelivery, DescribeResourcePolicies, DescribeLogGroups) and X-Ray trace upload have no resource-level permissions.',
    });
    Validations.of(role).acknowledge({
      id: `AwsSolutions-IAM5[Resource::<${stack.getLogicalId(this.stepFunction.node.defaultChild as lambda.CfnFunction)}.Arn>:*]`,
      reason: 'CDK grants invoke on the step handler and its versions (":*"): the function is the only one the state machine calls.',
    });
    for (const resource of [`${bucketArn}/${DISTILL_PATHS.runs}*/training/*`, `${bucketArn}/${DISTILL_PATHS.adapters}*`]) {
      Validations.of(role).acknowledge({
        id: `AwsSolutions-IAM5[Resource::${stack.resolve(resource)}]`,
        reason: 'Publishing copies the adapter files of a run (named at run time) to adapters/<name>/<version>/ and writes its promoted.json there.',
      });
    }
  }
}
