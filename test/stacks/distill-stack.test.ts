import { execFileSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { CfnWaitConditionHandle, Stack } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import { TrainingCodeAsset } from '../../lib/constructs/training-code-asset';
import { trainingArchive } from '../../lib/distill/training-archive';
import { checkChinaPartition } from '../helpers/partition';
import { kitApp, newApp } from '../helpers/kit-app';
import { referencedStacks, resourcesOf } from '../helpers/template';
import { chinaFindings, nagFindings } from '../helpers/nag';

type States = Record<string, any>;

/** The state machine's definition, with each deploy-time reference written as <ref>. */
function definitionOf(template: Template): { StartAt: string; States: States; TimeoutSeconds?: number } {
  const [machine] = resourcesOf(template, 'AWS::StepFunctions::StateMachine');
  const body = machine.Properties.DefinitionString;
  // AWS::Partition resolves to aws-cn at deploy (CallAwsService writes it as a Ref); other references stay opaque.
  const render = (p: unknown) => (typeof p === 'string' ? p : JSON.stringify(p) === '{"Ref":"AWS::Partition"}' ? 'aws-cn' : '<ref>');
  const text = typeof body === 'string' ? body : body['Fn::Join'][1].map(render).join('');
  return JSON.parse(text);
}

/** Every policy statement of a role, found by a fragment of its logical id. */
function statementsOf(json: any, roleFragment: string): any[] {
  return Object.entries<any>(json.Resources)
    .filter(([, r]) => r.Type === 'AWS::IAM::Policy' && r.Properties.Roles.some((ref: any) => JSON.stringify(ref).includes(roleFragment)))
    .flatMap(([, r]) => r.Properties.PolicyDocument.Statement);
}

const asList = <T>(v: T | T[]): T[] => (Array.isArray(v) ? v : [v]);

describe('Distill stack (-c stacks.distill=true, defaults)', () => {
  const { kit, config } = kitApp({ 'stacks.distill': 'true' });
  const stack = kit.distill!;
  const template = Template.fromStack(stack);
  const json = template.toJSON();
  const definition = definitionOf(template);
  const states = definition.States;

  test('the pipeline, in order: export, teacher looping while done is false, split, SageMaker training, publish, evaluate, promote or fail', () => {
    expect(definition.StartAt).toBe('Export');
    expect(states.Export.Next).toBe('Teacher');
    expect(states.Teacher.Next).toBe('TeacherDone?');
    expect(states['TeacherDone?'].Choices).toEqual([{ Variable: '$.steps.teacher.done', BooleanEquals: false, Next: 'Teacher' }]);
    expect(states['TeacherDone?'].Default).toBe('Split');
    expect(states.Split.Next).toBe('Train');
    expect(states.Train.Next).toBe('ListAdapterFiles');
    expect(states.ListAdapterFiles.Next).toBe('PublishAdapter');
    expect(states.PublishAdapter.Next).toBe('Evaluate');
    // The evaluation, like the teacher, returns done:false before the Lambda's deadline and is called again.
    expect(states.Evaluate.Next).toBe('EvaluateDone?');
    expect(states['EvaluateDone?'].Choices).toEqual([{ Variable: '$.steps.evaluate.done', BooleanEquals: false, Next: 'Evaluate' }]);
    expect(states['EvaluateDone?'].Default).toBe('Promote?');
    expect(states['Promote?'].Default).toBe('DescribeRejection');
    expect(states.DescribeRejection.Next).toBe('NotPromoted');
    expect(states.NotPromoted).toEqual({ Type: 'Fail', Error: 'AdapterNotPromoted', CausePath: '$.rejection.cause' });
    expect(states.DescribeRejection.Parameters['cause.$']).toMatch(/^States\.Format\('score \{\} \(win rate \{\}\) is below promoteThreshold 0\.5; .*report: s3:\/\/cnllm-weights-111122223333-cn-northwest-1\/distill\/runs\/\{\}\/eval\/report\.md', \$\.steps\.evaluate\.score/);
    expect(states.DescribePromotion.Next).toBe('Promote');
    expect(states.DescribePromotion.Parameters).toEqual(
      expect.objectContaining({ 'score.$': '$.steps.evaluate.score', 'report.$': "States.Format('s3://cnllm-weights-111122223333-cn-northwest-1/distill/runs/{}/eval/report.md', $.runId)", 'promotedAt.$': '$$.State.EnteredTime' }),
    );
    expect(states.Promote.Next).toBe('Promoted');
    expect(states.Promote.Parameters['Key.$']).toBe("States.Format('adapters/{}/{}/promoted.json', $.adapter.name, $.adapter.version)");
    // The whole run has a deadline, so a teacher that never reports done cannot loop forever.
    expect(definition.TimeoutSeconds).toBe(48 * 3600);
  });

  test('only integrations China has: Lambda, SageMaker .sync and S3 SDK calls; no HTTP task', () => {
    const tasks = Object.entries<any>(states).filter(([, s]) => s.Type === 'Task');
    const nested = Object.values<any>(states).filter((s) => s.Type === 'Map').flatMap((m) => Object.values<any>(m.ItemProcessor.States));
    const resources = [...tasks.map(([, s]) => s.Resource), ...nested.map((s) => s.Resource)];
    expect(resources.filter((r) => /states:::http/.test(r))).toEqual([]);
    expect(resources).toEqual(
      expect.arrayContaining(['<ref>', 'arn:aws-cn:states:::sagemaker:createTrainingJob.sync', 'arn:aws-cn:states:::aws-sdk:s3:listObjectsV2', 'arn:aws-cn:states:::aws-sdk:s3:copyObject', 'arn:aws-cn:states:::aws-sdk:s3:putObject']),
    );
    for (const r of resources) expect(r === '<ref>' || r.startsWith('arn:aws-cn:states:::')).toBe(true);
  });

  test('every task has a timeout; the step handler\'s tasks retry its errors with jittered backoff', () => {
    const nested = Object.values<any>(states.PublishAdapter.ItemProcessor.States);
    for (const task of [...Object.values<any>(states), ...nested].filter((s) => s.Type === 'Task')) expect(task.TimeoutSeconds).toBeGreaterThan(0);
    for (const name of ['Export', 'Teacher', 'Split', 'Evaluate']) {
      expect(states[name].TimeoutSeconds).toBe(900 + 60);
      expect(states[name].Retry).toContainEqual({ ErrorEquals: ['States.TaskFailed', 'States.Timeout'], IntervalSeconds: 30, MaxAttempts: 3, BackoffRate: 2, JitterStrategy: 'FULL' });
      expect(states[name].Parameters).toEqual(
        expect.objectContaining({ step: name.toLowerCase(), 'runId.$': '$.runId', 'dataset.$': '$.dataset', bucket: 'cnllm-weights-111122223333-cn-northwest-1', teacher: 'nova-pro', judge: 'nova-pro', student: config.distill.adapterName, evalShare: 0.1, promoteThreshold: 0.5, concurrency: 4, samplesPerPrompt: 1 }),
      );
      expect(states[name].Parameters.gatewayUrl).toMatch(/^https:\/\/<ref>\.execute-api\.cn-northwest-1\.<ref>\/<ref>\/v1$/);
    }
    expect(states.Train.TimeoutSeconds).toBe(12 * 3600 + 3600);
  });

  test('training job: China DLC image pinned by tag, KMS on volume and output, private subnets, network isolation, instance type and hyper-parameters from config', () => {
    const p = states.Train.Parameters;
    expect(p['TrainingJobName.$']).toBe("States.Format('cnllm-distill-{}', $.runId)");
    expect(p.AlgorithmSpecification.TrainingImage).toBe('727897471807.dkr.ecr.cn-northwest-1.amazonaws.com.cn/huggingface-pytorch-training:2.3.0-transformers4.48.0-gpu-py311-cu121-ubuntu20.04');
    expect(p.ResourceConfig).toEqual({ InstanceCount: 1, InstanceType: 'ml.g5.2xlarge', VolumeSizeInGB: 100, VolumeKmsKeyId: '<ref>' });
    expect(p.OutputDataConfig).toEqual({ 'S3OutputPath.$': "States.Format('s3://cnllm-weights-111122223333-cn-northwest-1/distill/runs/{}/training/', $.runId)", KmsKeyId: '<ref>', CompressionType: 'NONE' });
    expect(p.VpcConfig.Subnets).toHaveLength(3);
    expect(p.VpcConfig.SecurityGroupIds).toHaveLength(1);
    expect(p.EnableNetworkIsolation).toBe(true);
    expect(p.Environment).toEqual({ HF_HUB_OFFLINE: '1', TRANSFORMERS_OFFLINE: '1', HF_DATASETS_OFFLINE: '1' });
    expect(p.StoppingCondition).toEqual({ MaxRuntimeInSeconds: 12 * 3600 });
    const channels = Object.fromEntries(p.InputDataConfig.map((c: any) => [c.ChannelName, c.DataSource.S3DataSource]));
    expect(channels.train['S3Uri.$']).toBe("States.Format('s3://cnllm-weights-111122223333-cn-northwest-1/distill/runs/{}/dataset/', $.runId)");
    expect(channels.model.S3Uri).toBe('s3://cnllm-weights-111122223333-cn-northwest-1/models/Qwen/Qwen2.5-1.5B-Instruct/master/');
    expect(channels.code.S3Uri).toMatch(/^s3:\/\/cdk-hnb659fds-assets-111122223333-cn-northwest-1\/[0-9a-f]{64}\./);
    // The toolkit finds the archive where SageMaker put the code channel's object.
    expect(p.HyperParameters.sagemaker_submit_directory).toBe(`/opt/ml/input/data/code/${channels.code.S3Uri.split('/').pop()}`);
    expect(p.HyperParameters).toEqual(expect.objectContaining({ sagemaker_program: 'train_lora.py', lora_r: '16', lora_alpha: '32', epochs: '2', learning_rate: '0.0002', max_seq_len: '2048' }));
    // The adapter's manifest records where it came from: base model and revision, teacher, dataset version of the run.
    expect(p.HyperParameters).toEqual(expect.objectContaining({ base_model: 'Qwen/Qwen2.5-1.5B-Instruct', base_revision: 'master', teacher: 'nova-pro', 'dataset_version.$': "States.Format('{}/{}', $.dataset.name, $.dataset.version)" }));
  });

  test('IAM: no wildcard actions, China ARNs only, PassRole only of the training role and only to SageMaker, this kit\'s jobs only', () => {
    const statements = resourcesOf(template, 'AWS::IAM::Policy').flatMap((p) => p.Properties.PolicyDocument.Statement);
    expect(statements.flatMap((s) => asList(s.Action)).filter((a: string) => a.includes('*'))).toEqual([]);
    expect(checkChinaPartition(json, { region: 'cn-northwest-1', account: '111122223333' }).wrong).toEqual([]);
    const machine = statementsOf(json, 'StateMachineRole');
    expect(machine.find((s) => s.Action === 'iam:PassRole')).toEqual(
      expect.objectContaining({ Condition: { StringEquals: { 'iam:PassedToService': 'sagemaker.amazonaws.com' } }, Resource: { 'Fn::GetAtt': [expect.stringMatching(/^TrainingExecutionRole/), 'Arn'] } }),
    );
    expect(machine.find((s) => asList(s.Action).includes('sagemaker:CreateTrainingJob')).Resource).toBe('arn:aws-cn:sagemaker:cn-northwest-1:111122223333:training-job/cnllm-distill-*');
    expect(machine.find((s) => s.Action === 's3:ListBucket').Condition).toEqual({ StringLike: { 's3:prefix': ['distill/runs/*/training/*'] } });
    const [trust] = resourcesOf(template, 'AWS::IAM::Role').filter((r) => JSON.stringify(r.Properties.AssumeRolePolicyDocument).includes('sagemaker'));
    expect(trust.Properties.AssumeRolePolicyDocument.Statement[0].Principal).toEqual({ Service: 'sagemaker.amazonaws.com' });
  });

  test('the training role reads the run datasets and the base model, writes only training output, pulls only the DLC repository', () => {
    const s = statementsOf(json, 'TrainingExecutionRole');
    const bucket = 'arn:aws-cn:s3:::cnllm-weights-111122223333-cn-northwest-1';
    expect(s.find((x) => x.Sid === 'ReadDatasetAndBaseModel').Resource).toEqual([`${bucket}/distill/runs/*/dataset/*`, `${bucket}/models/Qwen/Qwen2.5-1.5B-Instruct/master/*`]);
    expect(s.find((x) => x.Sid === 'WriteTrainingOutput').Resource).toBe(`${bucket}/distill/runs/*/training/*`);
    expect(s.find((x) => x.Sid === 'PullTrainingImage').Resource).toBe('arn:aws-cn:ecr:cn-northwest-1:727897471807:repository/huggingface-pytorch-training');
    expect(s.find((x) => x.Sid === 'EncryptTrainingVolume').Condition).toEqual({ Bool: { 'kms:GrantIsForAWSResource': 'true' } });
    expect(s.filter((x) => asList(x.Action).some((a: string) => a.startsWith('s3:Put')))).toHaveLength(1);
  });

  test('the step handler may invoke only the gateway\'s chat route', () => {
    const invoke = statementsOf(json, 'StepRole').find((x) => x.Action === 'execute-api:Invoke');
    const parts = invoke.Resource['Fn::Join'][1];
    expect(parts[0]).toBe('arn:aws-cn:execute-api:cn-northwest-1:111122223333:');
    expect(parts[parts.length - 1]).toBe('/POST/v1/chat/completions');
    expect(referencedStacks(json)).toEqual(['cnllm-Gateway', 'cnllm-ModelStore', 'cnllm-Network']);
  });

  test('logs: every event to a KMS-encrypted log group (no execution data), X-Ray on, state encrypted with the stack\'s key', () => {
    const [machine] = resourcesOf(template, 'AWS::StepFunctions::StateMachine');
    expect(machine.Properties.LoggingConfiguration).toEqual(expect.objectContaining({ Level: 'ALL', IncludeExecutionData: false }));
    expect(machine.Properties.TracingConfiguration).toEqual({ Enabled: true });
    expect(machine.Properties.EncryptionConfiguration.Type).toBe('CUSTOMER_MANAGED_KMS_KEY');
    for (const group of resourcesOf(template, 'AWS::Logs::LogGroup')) expect(group.Properties.KmsKeyId).toBeDefined();
  });

  test('cdk-nag: AwsSolutions and ChinaRegion clean (acknowledgements name their reasons)', () => {
    expect(nagFindings(stack).filter((f) => f.severity === 'error')).toEqual([]);
    expect(chinaFindings(stack)).toEqual([]);
  });
});

describe('Distill stack with a mirrored training image and another instance type', () => {
  const { kit } = kitApp({ 'stacks.distill': 'true', 'distill.training.image': 'mirror', 'distill.training.instanceType': 'ml.g4dn.2xlarge', 'modelStore.repositories': 'vllm,tools,node,awscli,training', 'stacks.vllmEc2': 'false' });
  const template = Template.fromStack(kit.distill!);
  const train = definitionOf(template).States.Train.Parameters;

  test('the job pulls <prefix>/training from the private ECR of the region, and the role may pull only that repository', () => {
    expect(train.AlgorithmSpecification.TrainingImage).toBe('111122223333.dkr.ecr.cn-northwest-1.amazonaws.com.cn/cnllm/training:2.3.0-transformers4.48.0-gpu-py311-cu121-ubuntu20.04');
    expect(train.ResourceConfig.InstanceType).toBe('ml.g4dn.2xlarge');
    const pull = statementsOf(template.toJSON(), 'TrainingExecutionRole').find((x) => x.Sid === 'PullTrainingImage');
    expect(pull.Resource).toBe('arn:aws-cn:ecr:cn-northwest-1:111122223333:repository/cnllm/training');
  });
});

describe('the training code asset', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'cnllm-training-'));
  fs.writeFileSync(path.join(dir, 'train_lora.py'), 'print("train")\n');
  fs.mkdirSync(path.join(dir, 'lib'));
  fs.writeFileSync(path.join(dir, 'lib', 'data.py'), 'X = 1\n');
  fs.mkdirSync(path.join(dir, '__pycache__'));
  fs.writeFileSync(path.join(dir, '__pycache__', 'train_lora.cpython-311.pyc'), 'x');
  fs.writeFileSync(path.join(dir, 'requirements.txt'), 'torch\n');

  /** Synthesizes one asset with bundling on and returns its staged file and the construct. */
  function stage(packages: string[] = []) {
    const app = newApp({}, true);
    const stack = new Stack(app, 'Code', { env: { account: '111122223333', region: 'cn-northwest-1' } });
    new CfnWaitConditionHandle(stack, 'NotEmpty');
    const code = new TrainingCodeAsset(stack, 'Code', { sourceDir: dir, pipIndexUrl: 'https://mirrors.aliyun.com/pypi/simple/', packages });
    const assembly = app.synth();
    return { code, file: path.join(assembly.directory, code.asset.assetPath), key: stack.resolve(code.asset.s3ObjectKey) as string };
  }
  const list = (file: string) => execFileSync('tar', ['-tzf', file], { encoding: 'utf8' }).trim().split('\n');

  test('is a .tar.gz of training/ without caches and requirement files; the job\'s submit directory names it', () => {
    const { code, file, key } = stage();
    expect(key).toMatch(/^[0-9a-f]{64}\.tgz$/);
    expect(code.submitDirectory).toBe(`/opt/ml/input/data/code/${key}`);
    expect(list(file)).toEqual(['lib/data.py', 'train_lora.py']);
  });

  test('pinned pip packages become a requirements.txt that installs from the configured index (and change the asset)', () => {
    const plain = stage();
    const withPackages = stage(['peft==0.13.2']);
    expect(list(withPackages.file)).toEqual(['lib/data.py', 'requirements.txt', 'train_lora.py']);
    expect(execFileSync('tar', ['-xzOf', withPackages.file, 'requirements.txt'], { encoding: 'utf8' })).toBe('--index-url https://mirrors.aliyun.com/pypi/simple/\npeft==0.13.2\n');
    expect(withPackages.key).not.toBe(plain.key);
  });

  test('the same sources give the same bytes (the asset hash is the archive\'s); long paths fit the ustar header; no entry point, no archive', () => {
    expect(trainingArchive(dir).equals(trainingArchive(dir))).toBe(true);
    const deep = fs.mkdtempSync(path.join(os.tmpdir(), 'cnllm-training-deep-'));
    fs.writeFileSync(path.join(deep, 'train_lora.py'), '');
    const nested = path.join('a'.repeat(60), 'b'.repeat(60));
    fs.mkdirSync(path.join(deep, nested), { recursive: true });
    fs.writeFileSync(path.join(deep, nested, 'collator.py'), 'Y = 2\n');
    const file = path.join(deep, 'out.tgz');
    fs.writeFileSync(file, trainingArchive(deep));
    expect(list(file)).toEqual([`${nested}/collator.py`, 'train_lora.py']);
    expect(execFileSync('tar', ['-xzOf', file, `${nested}/collator.py`], { encoding: 'utf8' })).toBe('Y = 2\n');
    expect(() => trainingArchive(fs.mkdtempSync(path.join(os.tmpdir(), 'cnllm-training-empty-')))).toThrow(/has no train_lora\.py: the SageMaker job runs it/);
  });
});
