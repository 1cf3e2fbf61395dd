import { CfnElement, Stack } from 'aws-cdk-lib';
import { IConstruct } from 'constructs';
import { Match, Template } from 'aws-cdk-lib/assertions';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as logs from 'aws-cdk-lib/aws-logs';
import { loadConfig } from '../../lib/config/load';
import { UsageLedger } from '../../lib/constructs/usage-ledger';
import { LEDGER_FIELDS } from '../../runtime/ledger/record';
import { kitApp, newApp } from '../helpers/kit-app';
import { checkChinaPartition } from '../helpers/partition';
import { resourcesOf } from '../helpers/template';

const ACCOUNT = '111122223333';
const REGION = 'cn-northwest-1';
const BUCKET = `cnllm-ledger-${ACCOUNT}-${REGION}`;

/** The logical id of a construct's CloudFormation resource. */
const idOf = (construct: IConstruct) => Stack.of(construct).getLogicalId(construct.node.defaultChild as CfnElement);

/** Every statement of the inline and managed policies attached to a role (by the role's logical id). */
function statementsOf(template: Template, roleId: string): any[] {
  const policies = [...resourcesOf(template, 'AWS::IAM::Policy'), ...resourcesOf(template, 'AWS::IAM::ManagedPolicy')];
  return policies.filter((p) => JSON.stringify(p.Properties.Roles ?? []).includes(`"${roleId}"`)).flatMap((p) => p.Properties.PolicyDocument.Statement);
}

describe('usage ledger in the Gateway stack (streaming door on, default ledger settings)', () => {
  const { kit, ledger } = kitApp({ 'gateway.streamingDoor.enabled': 'true' });
  const stack = kit.gateway!;
  const template = Template.fromStack(stack);
  const json = template.toJSON();
  const usage = stack.ledger!;
  const bucketId = idOf(usage.bucket);
  const keyId = idOf(usage.key);
  const streamId = stack.getLogicalId(usage.deliveryStream);
  const processorId = idOf(usage.processor);
  const roleId = (name: string) => idOf(usage.node.findChild(name));
  const keyArn = { 'Fn::GetAtt': [keyId, 'Arn'] };
  const bucketArn = { 'Fn::GetAtt': [bucketId, 'Arn'] };
  const objects = (prefix: string) => ({ 'Fn::Join': ['', [bucketArn, `/${prefix}*`]] });

  test('its own bucket: named for account and region, KMS with its own key, versioned, TLS only, public access blocked, access-logged, records expiring', () => {
    template.hasResourceProperties('AWS::S3::Bucket', {
      BucketName: BUCKET,
      BucketEncryption: { ServerSideEncryptionConfiguration: [{ ServerSideEncryptionByDefault: { SSEAlgorithm: 'aws:kms', KMSMasterKeyID: keyArn }, BucketKeyEnabled: true }] },
      VersioningConfiguration: { Status: 'Enabled' },
      PublicAccessBlockConfiguration: { BlockPublicAcls: true, BlockPublicPolicy: true, IgnorePublicAcls: true, RestrictPublicBuckets: true },
      LoggingConfiguration: { DestinationBucketName: Match.anyValue(), LogFilePrefix: 'ledger-bucket/' },
      LifecycleConfiguration: { Rules: Match.arrayWith([Match.objectLike({ Id: 'expire-records', Prefix: 'ledger/', ExpirationInDays: 400 }), Match.objectLike({ Id: 'expire-athena-results', Prefix: 'athena-results/', ExpirationInDays: 30 })]) },
    });
    const policy = resourcesOf(template, 'AWS::S3::BucketPolicy').find((p) => JSON.stringify(p.Properties.Bucket) === JSON.stringify({ Ref: bucketId }))!;
    expect(policy.Properties.PolicyDocument.Statement).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ Effect: 'Deny', Condition: { Bool: { 'aws:SecureTransport': 'false' } } }),
        expect.objectContaining({ Effect: 'Deny', Condition: { NumericLessThan: { 's3:TlsVersion': 1.2 } } }),
      ]),
    );
    expect(template.findResources('AWS::KMS::Key')[keyId]).toEqual(expect.objectContaining({ DeletionPolicy: 'Retain', Properties: expect.objectContaining({ EnableKeyRotation: true }) }));
  });

  test('Firehose writes gzip JSON lines under ledger/dt=YYYY-MM-DD/ with the ledger key, through the processor, failures apart', () => {
    const stream = template.findResources('AWS::KinesisFirehose::DeliveryStream')[streamId].Properties;
    expect(stream.DeliveryStreamEncryptionConfigurationInput).toEqual({ KeyType: 'CUSTOMER_MANAGED_CMK', KeyARN: keyArn });
    const s3 = stream.ExtendedS3DestinationConfiguration;
    expect(s3).toEqual(
      expect.objectContaining({
        BucketARN: bucketArn,
        Prefix: 'ledger/dt=!{timestamp:yyyy-MM-dd}/',
        ErrorOutputPrefix: 'ledger-errors/!{firehose:error-output-type}/dt=!{timestamp:yyyy-MM-dd}/',
        CompressionFormat: 'GZIP',
        BufferingHints: { IntervalInSeconds: 300, SizeInMBs: 64 },
        EncryptionConfiguration: { KMSEncryptionConfig: { AWSKMSKeyARN: keyArn } },
      }),
    );
    // arrival-day (the default) needs no dynamic partitioning, which is not confirmed in China.
    expect(s3.DynamicPartitioningConfiguration).toBeUndefined();
    expect(s3.ProcessingConfiguration).toEqual({
      Enabled: true,
      Processors: [{ Type: 'Lambda', Parameters: expect.arrayContaining([{ ParameterName: 'LambdaArn', ParameterValue: { 'Fn::GetAtt': [processorId, 'Arn'] } }]) }],
    });
    const processor = template.findResources('AWS::Lambda::Function')[processorId].Properties;
    expect(processor).toEqual(expect.objectContaining({ Runtime: 'nodejs22.x', Architectures: ['x86_64'], Handler: 'index.handler', Environment: { Variables: { LEDGER_PARTITION_KEYS: 'false' } } }));
    expect(processor.VpcConfig).toBeUndefined();
  });

  test('a subscription filter of request-log lines on both front doors\' log groups', () => {
    const filters = resourcesOf(template, 'AWS::Logs::SubscriptionFilter').map((f) => f.Properties);
    expect(filters).toHaveLength(2);
    const lambdaLogs = idOf(stack.gatewayFunction.logGroup);
    const doorLogs = idOf(stack.streamingDoor!.logGroup);
    expect(filters.map((f) => f.LogGroupName).sort((a, b) => JSON.stringify(a).localeCompare(JSON.stringify(b)))).toEqual([{ Ref: lambdaLogs }, { Ref: doorLogs }].sort((a, b) => JSON.stringify(a).localeCompare(JSON.stringify(b))));
    for (const f of filters) expect(f).toEqual(expect.objectContaining({ FilterPattern: '{ $.msg = "request" }', DestinationArn: { 'Fn::GetAtt': [streamId, 'Arn'] } }));
  });

  test('a Glue table of the record\'s fields with day partitions by projection (no crawler), read with the JSON SerDe', () => {
    const table = resourcesOf(template, 'AWS::Glue::Table')[0].Properties;
    expect(table.DatabaseName).toBe('cnllm_usage');
    const input = table.TableInput;
    expect(input.Name).toBe('ledger');
    expect(input.PartitionKeys).toEqual([expect.objectContaining({ Name: 'dt', Type: 'string' })]);
    expect(input.StorageDescriptor.Columns.map((c: { Name: string }) => c.Name)).toEqual(LEDGER_FIELDS.map((f) => f.toLowerCase()));
    expect(Object.fromEntries(input.StorageDescriptor.Columns.map((c: { Name: string; Type: string }) => [c.Name, c.Type]))).toEqual(
      expect.objectContaining({ time: 'string', group: 'string', crossborder: 'boolean', inputtokens: 'bigint', cachedtokens: 'bigint', cost: 'double', status: 'int', errorcode: 'string' }),
    );
    expect(input.StorageDescriptor.SerdeInfo.SerializationLibrary).toBe('org.openx.data.jsonserde.JsonSerDe');
    expect(input.StorageDescriptor.Location).toEqual({ 'Fn::Join': ['', ['s3://', { Ref: bucketId }, '/ledger/']] });
    expect(input.Parameters).toEqual(
      expect.objectContaining({
        'projection.enabled': 'true',
        'projection.dt.type': 'date',
        'projection.dt.format': 'yyyy-MM-dd',
        'projection.dt.range': '2026-01-01,NOW',
        'storage.location.template': { 'Fn::Join': ['', ['s3://', { Ref: bucketId }, '/ledger/dt=${dt}/']] },
      }),
    );
    expect(resourcesOf(template, 'AWS::Glue::Crawler')).toHaveLength(0);
  });

  test('an Athena workgroup that enforces its configuration: results in the bucket, encrypted with the ledger key, a scan limit', () => {
    template.hasResourceProperties('AWS::Athena::WorkGroup', {
      Name: 'cnllm-usage',
      WorkGroupConfiguration: {
        EnforceWorkGroupConfiguration: true,
        BytesScannedCutoffPerQuery: 10 * 1024 ** 3,
        ResultConfiguration: { OutputLocation: { 'Fn::Join': ['', ['s3://', { Ref: bucketId }, '/athena-results/']] }, EncryptionConfiguration: { EncryptionOption: 'SSE_KMS', KmsKey: keyArn } },
      },
    });
    template.hasResourceProperties('AWS::Athena::NamedQuery', { Database: 'cnllm_usage', QueryString: Match.stringLikeRegexp('FROM "cnllm_usage"."ledger"') });
  });

  test('least privilege: Firehose writes only the ledger prefixes with the key through S3; CloudWatch Logs only puts records; the processor only logs', () => {
    const firehoseRole = roleId('DeliveryRole');
    expect(template.findResources('AWS::IAM::Role')[firehoseRole].Properties.AssumeRolePolicyDocument.Statement).toEqual([
      expect.objectContaining({ Principal: { Service: 'firehose.amazonaws.com' }, Condition: { StringEquals: { 'sts:ExternalId': ACCOUNT } } }),
    ]);
    const firehose = statementsOf(template, firehoseRole);
    expect(firehose).toContainEqual({ Effect: 'Allow', Action: ['s3:AbortMultipartUpload', 's3:PutObject'], Resource: [objects('ledger-errors/'), objects('ledger/')] });
    expect(firehose).toContainEqual({
      Effect: 'Allow',
      Action: ['kms:Decrypt', 'kms:GenerateDataKey'],
      Resource: keyArn,
      Condition: { StringEquals: { 'kms:ViaService': ['s3.cn-northwest-1.amazonaws.com', 's3.cn-northwest-1.amazonaws.com.cn'] }, StringLike: { 'kms:EncryptionContext:aws:s3:arn': [bucketArn, objects('ledger/'), objects('ledger-errors/')] } },
    });
    const actions = firehose.flatMap((s) => [s.Action].flat());
    expect(actions.sort()).toEqual(['kms:Decrypt', 'kms:GenerateDataKey', 'lambda:GetFunctionConfiguration', 'lambda:InvokeFunction', 'logs:PutLogEvents', 's3:AbortMultipartUpload', 's3:GetBucketLocation', 's3:ListBucket', 's3:ListBucketMultipartUploads', 's3:PutObject']);
    expect(JSON.stringify(firehose)).not.toMatch(/"Resource":"\*"|s3:\*|kms:\*/);

    const subscriptionRole = roleId('SubscriptionRole');
    expect(statementsOf(template, subscriptionRole)).toEqual([{ Effect: 'Allow', Action: ['firehose:PutRecord', 'firehose:PutRecordBatch'], Resource: { 'Fn::GetAtt': [streamId, 'Arn'] } }]);
    const trust = template.findResources('AWS::IAM::Role')[subscriptionRole].Properties.AssumeRolePolicyDocument.Statement[0];
    expect(trust.Condition).toEqual({ StringLike: { 'aws:SourceArn': `arn:aws-cn:logs:${REGION}:${ACCOUNT}:*` } });

    const processorRole = roleId('ProcessorRole');
    expect(statementsOf(template, processorRole).flatMap((s) => [s.Action].flat())).toEqual(['logs:CreateLogStream', 'logs:PutLogEvents']);
  });

  test('the usage dashboard shows spend per group per currency (the budget left per group only with quotas)', () => {
    const dashboardBody = resourcesOf(template, 'AWS::CloudWatch::Dashboard')[0].Properties.DashboardBody;
    const parts: unknown[] = typeof dashboardBody === 'string' ? [dashboardBody] : dashboardBody['Fn::Join'][1];
    // The body is JSON text (tokens for the region): read the expressions with their quotes unescaped.
    const body = parts.map((p) => (typeof p === 'string' ? p : 'TOKEN')).join('').replace(/\\"/g, '"');
    for (const currency of ['CNY', 'USD']) {
      // Over the time range the viewer picks (single values), and per hour (graph).
      expect(body).toContain(`SEARCH('{cn-llm-kit/Gateway,Currency,Group} MetricName="Cost" Currency="${currency}"', 'Sum')`);
      expect(body).toContain(`SEARCH('{cn-llm-kit/Gateway,Currency,Group} MetricName="Cost" Currency="${currency}"', 'Sum', 3600)`);
    }
    // Budgets exist only where quotas are enforced: the budget graph is shown there (test/stacks/quota-store.test.ts).
    expect(body).not.toContain('BudgetUsedPercent');
    expect(body).toContain('"setPeriodToTimeRange":true');
  });

  test('China ARNs only; no unacknowledged finding; each acknowledgement names its reason', () => {
    expect(checkChinaPartition(json, { region: REGION, account: ACCOUNT }).wrong).toEqual([]);
    const ledgerEvaluations = ledger.evaluations.filter((e) => e.resourcePath.includes('/UsageLedger/'));
    expect(ledgerEvaluations.filter((e) => e.outcome === 'non-compliant')).toEqual([]);
    const acks = ledgerEvaluations.filter((e) => e.outcome === 'acknowledged' && e.pack === 'AwsSolutions').map((e) => `${e.ruleId} ${e.resourcePath}`);
    expect(acks.sort()).toEqual(
      [
        'AwsSolutions-IAM5 cnllm-Gateway/UsageLedger/DeliveryRole/DefaultPolicy/Resource',
        'AwsSolutions-IAM5 cnllm-Gateway/UsageLedger/DeliveryRole/DefaultPolicy/Resource',
        'AwsSolutions-IAM5 cnllm-Gateway/UsageLedger/ReaderPolicy/Resource',
        'AwsSolutions-IAM5 cnllm-Gateway/UsageLedger/ReaderPolicy/Resource',
        'AwsSolutions-L1 cnllm-Gateway/UsageLedger/Processor/Resource',
      ].sort(),
    );
  });
});

describe('usage ledger options', () => {
  /** The construct alone in a China stack: no nag packs, no bundling, for the options' template differences. */
  function ledgerTemplate(overrides: Record<string, unknown>) {
    const app = newApp();
    const config = loadConfig(overrides);
    const stack = new Stack(app, 'Ledger', { env: { account: ACCOUNT, region: REGION } });
    const key = new kms.Key(stack, 'LogKey');
    new UsageLedger(stack, 'UsageLedger', {
      settings: config.ledger,
      sources: [{ name: 'Lambda', logGroup: new logs.LogGroup(stack, 'Logs', { encryptionKey: key }) }],
      bucketName: BUCKET,
      databaseName: 'cnllm_usage',
      tableName: 'ledger',
      workGroupName: 'cnllm-usage',
      lambdaRuntime: config.lambda.runtime,
      lambdaArchitecture: config.lambda.architecture,
      logRetentionDays: 30,
    });
    return Template.fromStack(stack);
  }

  test('request-day partitioning: the processor names the day, Firehose partitions dynamically by it', () => {
    const template = ledgerTemplate({ 'ledger.partitionBy': 'request-day', 'ledger.retentionDays': '0' });
    const s3 = resourcesOf(template, 'AWS::KinesisFirehose::DeliveryStream')[0].Properties.ExtendedS3DestinationConfiguration;
    expect(s3.Prefix).toBe('ledger/dt=!{partitionKeyFromLambda:dt}/');
    expect(s3.DynamicPartitioningConfiguration).toEqual({ Enabled: true, RetryOptions: { DurationInSeconds: 300 } });
    template.hasResourceProperties('AWS::Lambda::Function', { Environment: { Variables: { LEDGER_PARTITION_KEYS: 'true' } } });
    // retentionDays 0 keeps records: no expiry rule on ledger/.
    const rules = resourcesOf(template, 'AWS::S3::Bucket').find((b) => b.Properties.BucketName === BUCKET)!.Properties.LifecycleConfiguration.Rules;
    expect(rules.map((r: { Id: string }) => r.Id)).not.toContain('expire-records');
  });

  test('config errors name the field and the fix', () => {
    expect(() => loadConfig({ 'ledger.partitionBy': 'request-day', 'ledger.bufferMiB': '32' })).toThrow(/ledger\.bufferMiB.*at least 64 with partitionBy request-day/s);
    expect(() => loadConfig({ 'ledger.partitionBy': 'hourly' })).toThrow(/ledger\.partitionBy.*arrival-day or request-day/s);
    expect(() => loadConfig({ 'ledger.bufferSeconds': '5' })).toThrow(/ledger\.bufferSeconds.*at least 60/s);
  });
});
