import * as path from 'path';
import { ArnFormat, CfnOutput, Duration, RemovalPolicy, Stack, Validations } from 'aws-cdk-lib';
import * as athena from 'aws-cdk-lib/aws-athena';
import * as glue from 'aws-cdk-lib/aws-glue';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as kinesisfirehose from 'aws-cdk-lib/aws-kinesisfirehose';
import * as kms from 'aws-cdk-lib/aws-kms';
import { NodejsFunction, OutputFormat } from 'aws-cdk-lib/aws-lambda-nodejs';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as s3 from 'aws-cdk-lib/aws-s3';
import { Construct } from 'constructs';
import { PARTITION_KEYS_ENV } from '../../runtime/ledger/firehose-processor';
import { LEDGER_FIELDS, LedgerRecord } from '../../runtime/ledger/record';
import { CHINA_URL_SUFFIX, cloudWatchLogsPrincipal } from '../china/china';
import { KitConfig } from '../config/schema';
import { EncryptedLogGroup } from './encrypted-log-group';
import { kitKey } from './kit-key';
import { accessLogBucketProps, kmsBucketProps } from './bucket-baseline';
import { nodeLambdaPlatform } from './lambda-platform';

/** Key prefixes in the ledger bucket: records (the Glue table's location), Firehose's failures, Athena's results. */
export const LEDGER_PREFIX = 'ledger/';
export const LEDGER_ERRORS_PREFIX = 'ledger-errors/';
export const ATHENA_RESULTS_PREFIX = 'athena-results/';
/** KMS through S3 in this region only; both forms, because which one KMS reports in aws-cn is unconfirmed (as in lib/china/secret-read.ts). */
export const s3ViaService = (region: string) => [`s3.${region}.amazonaws.com`, `s3.${region}.${CHINA_URL_SUFFIX}`];
/** Only the request-log lines: the gateway's JSON line carries `"msg":"request"` (runtime/gateway/request-log.ts). */
export const REQUEST_LOG_FILTER = '{ $.msg = "request" }';

/** Athena column types of the record's fields; every field of LedgerRecord must have one (checked by the compiler). */
const COLUMN_TYPES: Record<keyof LedgerRecord, string> = {
  time: 'string',
  requestId: 'string',
  identity: 'string',
  group: 'string',
  model: 'string',
  route: 'string',
  servedBy: 'string',
  crossBorder: 'boolean',
  stream: 'boolean',
  inputTokens: 'bigint',
  outputTokens: 'bigint',
  cachedTokens: 'bigint',
  cost: 'double',
  currency: 'string',
  latencyMs: 'bigint',
  status: 'int',
  errorCode: 'string',
};

export interface RequestLogSource {
  /** Says which front door, in the subscription filter's id. */
  readonly name: string;
  readonly logGroup: logs.ILogGroup;
}

export interface UsageLedgerProps {
  readonly settings: KitConfig['ledger'];
  /** The front doors' log groups whose request-log lines become ledger records. */
  readonly sources: readonly RequestLogSource[];
  readonly bucketName: string;
  readonly databaseName: string;
  readonly tableName: string;
  readonly workGroupName: string;
  /** Runtime and architecture of the processor Lambda (the kit's China pins). */
  readonly lambdaRuntime: string;
  readonly lambdaArchitecture: 'x86_64' | 'arm64';
  /** Days the processor's and Firehose's own logs are kept. */
  readonly logRetentionDays: number;
}

/**
 * The usage ledger: one record per request, durable in S3 in the region, without touching the
 * request path. Each front door already writes one JSON line per request to CloudWatch Logs; a
 * subscription filter hands those lines to Firehose, a Lambda projects each onto the ledger's
 * fields (never prompt or completion text), and Firehose writes gzip JSON lines under
 * `ledger/dt=YYYY-MM-DD/`, encrypted with the ledger's own key. A Glue table with partition
 * projection (no crawler) and an Athena workgroup with encrypted results make it queryable.
 *
 * Why not write from the gateway itself: a PutRecord per request would add a network call, and a
 * failure mode, to every answer; the log line is written anyway and CloudWatch Logs delivers it
 * with retries. Why a bucket of its own rather than the weights bucket: the ledger holds who used
 * what (personal data under PIPL) and lives as long as billing needs it; its readers (finance,
 * team leads) must not read weights, and the weights' readers (GPU instances) must not read usage.
 * Its own key keeps those grants apart too, and the Gateway stack stays deployable without the
 * model store.
 */
export class UsageLedger extends Construct {
  public readonly key: kms.Key;
  public readonly bucket: s3.Bucket;
  public readonly accessLogBucket: s3.Bucket;
  public readonly processor: NodejsFunction;
  public readonly deliveryStream: kinesisfirehose.CfnDeliveryStream;
  public readonly database: glue.CfnDatabase;
  public readonly table: glue.CfnTable;
  public readonly workGroup: athena.CfnWorkGroup;
  /** Attach to whoever reads the ledger (npm run usage, Athena): read records, run queries in the workgroup. */
  public readonly readerPolicy: iam.ManagedPolicy;

  constructor(scope: Construct, id: string, props: UsageLedgerProps) {
    super(scope, id);
    const stack = Stack.of(this);
    const { settings } = props;
    const requestDay = settings.partitionBy === 'request-day';

    // Billing evidence: kept when the stack is deleted.
    this.key = kitKey(this, 'Key', { description: `Encrypts the usage ledger of ${stack.stackName} (records, Athena results, processor logs)`, removalPolicy: RemovalPolicy.RETAIN });

    this.accessLogBucket = new s3.Bucket(this, 'AccessLogs', accessLogBucketProps(RemovalPolicy.RETAIN));

    const recordsExpire = settings.retentionDays > 0 ? Duration.days(settings.retentionDays) : undefined;
    this.bucket = new s3.Bucket(this, 'Bucket', {
      // A bucket key matters here: Firehose writes many small objects.
      ...kmsBucketProps(this.key, this.accessLogBucket, 'ledger-bucket/'),
      bucketName: props.bucketName,
      lifecycleRules: [
        { id: 'expire-records', prefix: LEDGER_PREFIX, expiration: recordsExpire },
        { id: 'expire-delivery-failures', prefix: LEDGER_ERRORS_PREFIX, expiration: recordsExpire ?? Duration.days(3653) },
        { id: 'expire-athena-results', prefix: ATHENA_RESULTS_PREFIX, expiration: Duration.days(settings.athenaResultsDays) },
        { id: 'expire-replaced-versions', noncurrentVersionExpiration: Duration.days(30), abortIncompleteMultipartUploadAfter: Duration.days(7) },
      ].filter((rule) => rule.expiration !== undefined || rule.noncurrentVersionExpiration !== undefined),
      removalPolicy: RemovalPolicy.RETAIN,
    });

    Validations.of(this.bucket).acknowledge({
      id: 'NIST.800.53.R5-S3BucketReplicationEnabled',
      reason: 'The ledger is versioned and stays in the region its requests were served from (usage records are personal data under PIPL); a replica in the other China region would need a second key and bucket for no recovery need the versions do not cover.',
    });

    this.processor = this.createProcessor(props, requestDay);
    this.deliveryStream = this.createDeliveryStream(props, requestDay);
    this.subscribe(props.sources);

    this.database = new glue.CfnDatabase(this, 'Database', {
      catalogId: stack.account,
      databaseInput: { name: props.databaseName, description: `Usage ledger of ${stack.stackName}: one record per gateway request` },
    });
    this.table = new glue.CfnTable(this, 'Table', {
      catalogId: stack.account,
      databaseName: props.databaseName,
      tableInput: {
        name: props.tableName,
        description: 'One record per request (runtime/ledger/record.ts): usage and cost, never prompt or completion text',
        tableType: 'EXTERNAL_TABLE',
        partitionKeys: [{ name: 'dt', type: 'string', comment: 'UTC day, YYYY-MM-DD (see ledger.partitionBy)' }],
        parameters: {
          classification: 'json',
          EXTERNAL: 'TRUE',
          // Partition projection: Athena computes the dt= partitions itself; no crawler, no MSCK REPAIR.
          'projection.enabled': 'true',
          'projection.dt.type': 'date',
          'projection.dt.format': 'yyyy-MM-dd',
          'projection.dt.range': '2026-01-01,NOW',
          'projection.dt.interval': '1',
          'projection.dt.interval.unit': 'DAYS',
          'storage.location.template': `s3://${this.bucket.bucketName}/${LEDGER_PREFIX}dt=\${dt}/`,
        },
        storageDescriptor: {
          location: `s3://${this.bucket.bucketName}/${LEDGER_PREFIX}`,
          inputFormat: 'org.apache.hadoop.mapred.TextInputFormat',
          outputFormat: 'org.apache.hadoop.hive.ql.io.HiveIgnoreKeyTextOutputFormat',
          // The OpenX SerDe matches camelCase JSON keys to Athena's lower-case column names.
          serdeInfo: { serializationLibrary: 'org.openx.data.jsonserde.JsonSerDe', parameters: { 'case.insensitive': 'true', 'ignore.malformed.json': 'true' } },
          columns: LEDGER_FIELDS.map((name) => ({ name: name.toLowerCase(), type: COLUMN_TYPES[name] })),
        },
      },
    });
    this.table.addResourceDependency(this.database);

    this.workGroup = new athena.CfnWorkGroup(this, 'WorkGroup', {
      name: props.workGroupName,
      description: 'Queries of the usage ledger; results encrypted with the ledger key',
      recursiveDeleteOption: true,
      workGroupConfiguration: {
        // Callers cannot send results elsewhere or unencrypted.
        enforceWorkGroupConfiguration: true,
        publishCloudWatchMetricsEnabled: true,
        bytesScannedCutoffPerQuery: settings.athenaMaxScanGiB * 1024 ** 3,
        resultConfiguration: {
          outputLocation: `s3://${this.bucket.bucketName}/${ATHENA_RESULTS_PREFIX}`,
          encryptionConfiguration: { encryptionOption: 'SSE_KMS', kmsKey: this.key.keyArn },
        },
      },
    });
    new athena.CfnNamedQuery(this, 'SpendByGroupThisMonth', {
      name: 'Spend by group, this month',
      description: 'Requests, tokens and cost per group since the first of the month (UTC)',
      database: props.databaseName,
      workGroup: this.workGroup.ref,
      queryString: `SELECT coalesce("group", 'default') AS "group", count(*) AS requests, sum(inputtokens) AS input_tokens, sum(outputtokens) AS output_tokens,
       sum(CASE WHEN currency = 'CNY' THEN cost END) AS cost_cny, sum(CASE WHEN currency = 'USD' THEN cost END) AS cost_usd
FROM "${props.databaseName}"."${props.tableName}"
WHERE dt >= date_format(date_trunc('month', current_date) - interval '1' day, '%Y-%m-%d')
  AND from_iso8601_timestamp("time") >= date_trunc('month', current_timestamp)
GROUP BY 1 ORDER BY requests DESC`,
    }).addResourceDependency(this.workGroup);

    this.readerPolicy = this.createReaderPolicy(props);

    new CfnOutput(stack, 'LedgerSource', { value: `s3://${this.bucket.bucketName}/${LEDGER_PREFIX}`, description: 'Usage ledger records: npm run usage -- --source <this> --from YYYY-MM-DD --to YYYY-MM-DD' });
    new CfnOutput(stack, 'LedgerAthenaWorkGroup', { value: props.workGroupName, description: 'Athena workgroup for ledger queries (table in the Glue database of the same stack)' });
    new CfnOutput(stack, 'LedgerReaderPolicyArn', { value: this.readerPolicy.managedPolicyArn, description: 'Managed policy to attach to roles that read the ledger or query it with Athena' });
  }

  /** The Firehose transformation Lambda (runtime/ledger/firehose-processor.ts): no network, no VPC, its own log group. */
  private createProcessor(props: UsageLedgerProps, requestDay: boolean): NodejsFunction {
    const logGroup = new EncryptedLogGroup(this, 'ProcessorLogs', { retentionDays: props.logRetentionDays as logs.RetentionDays, purpose: 'usage ledger processor logs', retain: true, key: this.key }).logGroup;
    const role = new iam.Role(this, 'ProcessorRole', { assumedBy: new iam.ServicePrincipal('lambda.amazonaws.com'), description: 'cn-llm-kit usage ledger processor: writes its own logs, nothing else' });
    role.addToPolicy(new iam.PolicyStatement({ actions: ['logs:CreateLogStream', 'logs:PutLogEvents'], resources: [logGroup.logGroupArn] }));
    const fn = new NodejsFunction(this, 'Processor', {
      entry: path.join(__dirname, '..', '..', 'runtime', 'ledger', 'firehose-processor.ts'),
      handler: 'handler',
      ...nodeLambdaPlatform(props.lambdaRuntime, props.lambdaArchitecture),
      memorySize: 256,
      // Firehose waits up to 5 minutes; a batch of a few MB is decoded in well under a second.
      timeout: Duration.minutes(1),
      role,
      logGroup,
      environment: { [PARTITION_KEYS_ENV]: String(requestDay) },
      description: 'cn-llm-kit usage ledger: request-log lines to ledger records (Firehose transformation)',
      bundling: { minify: true, sourceMap: false, format: OutputFormat.CJS, target: 'node20' },
    });
    const nist = (rule: string, reason: string) => Validations.of(fn).acknowledge({ id: `NIST.800.53.R5-${rule}`, reason });
    nist('LambdaInsideVPC', 'Invoked only by Firehose, the processor makes no network call: it decodes the records it is handed and returns them. A VPC would add network interfaces and isolate nothing.');
    nist('LambdaDLQ', 'Invoked synchronously by Firehose, which retries a failed batch and then writes it under ledger-errors/ in the bucket: that is the dead-letter store.');
    nist('LambdaConcurrency', 'Concurrency follows the Firehose stream, which invokes the processor once per buffered batch (a few per minute); reserved concurrency would take from the account pool, small by default in China accounts.');
    return fn;
  }

  private createDeliveryStream(props: UsageLedgerProps, requestDay: boolean): kinesisfirehose.CfnDeliveryStream {
    const stack = Stack.of(this);
    const { settings } = props;
    const logGroup = new EncryptedLogGroup(this, 'DeliveryLogs', { retentionDays: props.logRetentionDays as logs.RetentionDays, purpose: 'usage ledger delivery errors', retain: true, key: this.key }).logGroup;
    const logStream = new logs.LogStream(this, 'DeliveryErrors', { logGroup, removalPolicy: RemovalPolicy.RETAIN });

    const role = new iam.Role(this, 'DeliveryRole', {
      assumedBy: new iam.ServicePrincipal('firehose.amazonaws.com', { conditions: { StringEquals: { 'sts:ExternalId': stack.account } } }),
      description: 'cn-llm-kit usage ledger Firehose: writes ledger objects, invokes the processor',
    });
    const objectArns = [this.bucket.arnForObjects(`${LEDGER_PREFIX}*`), this.bucket.arnForObjects(`${LEDGER_ERRORS_PREFIX}*`)];
    role.addToPolicy(new iam.PolicyStatement({ actions: ['s3:PutObject', 's3:AbortMultipartUpload'], resources: objectArns }));
    role.addToPolicy(new iam.PolicyStatement({ actions: ['s3:GetBucketLocation', 's3:ListBucket', 's3:ListBucketMultipartUploads'], resources: [this.bucket.bucketArn] }));
    role.addToPolicy(
      new iam.PolicyStatement({
        actions: ['kms:GenerateDataKey', 'kms:Decrypt'],
        resources: [this.key.keyArn],
        conditions: {
          StringEquals: { 'kms:ViaService': s3ViaService(stack.region) },
          // With an S3 Bucket Key the encryption context is the bucket; without it, the object.
          StringLike: { 'kms:EncryptionContext:aws:s3:arn': [this.bucket.bucketArn, ...objectArns] },
        },
      }),
    );
    // Firehose invokes the function by its ARN, qualified with $LATEST.
    role.addToPolicy(new iam.PolicyStatement({ actions: ['lambda:InvokeFunction', 'lambda:GetFunctionConfiguration'], resources: [this.processor.functionArn, `${this.processor.functionArn}:$LATEST`] }));
    role.addToPolicy(new iam.PolicyStatement({ actions: ['logs:PutLogEvents'], resources: [stack.formatArn({ service: 'logs', resource: 'log-group', resourceName: `${logGroup.logGroupName}:log-stream:${logStream.logStreamName}`, arnFormat: ArnFormat.COLON_RESOURCE_NAME })] }));
    const bucketId = stack.getLogicalId(this.bucket.node.defaultChild as s3.CfnBucket);
    for (const prefix of [LEDGER_PREFIX, LEDGER_ERRORS_PREFIX]) {
      Validations.of(role).acknowledge({
        id: `AwsSolutions-IAM5[Resource::<${bucketId}.Arn>/${prefix}*]`,
        reason: `Firehose names each object itself when it delivers it (day partition, stream name, time, random id): writes are confined to the ${prefix} prefix of the ledger bucket.`,
      });
    }

    const stream = new kinesisfirehose.CfnDeliveryStream(this, 'DeliveryStream', {
      deliveryStreamType: 'DirectPut',
      deliveryStreamEncryptionConfigurationInput: { keyType: 'CUSTOMER_MANAGED_CMK', keyArn: this.key.keyArn },
      extendedS3DestinationConfiguration: {
        bucketArn: this.bucket.bucketArn,
        roleArn: role.roleArn,
        prefix: requestDay ? `${LEDGER_PREFIX}dt=!{partitionKeyFromLambda:dt}/` : `${LEDGER_PREFIX}dt=!{timestamp:yyyy-MM-dd}/`,
        errorOutputPrefix: `${LEDGER_ERRORS_PREFIX}!{firehose:error-output-type}/dt=!{timestamp:yyyy-MM-dd}/`,
        bufferingHints: { intervalInSeconds: settings.bufferSeconds, sizeInMBs: settings.bufferMiB },
        compressionFormat: 'GZIP',
        encryptionConfiguration: { kmsEncryptionConfig: { awskmsKeyArn: this.key.keyArn } },
        cloudWatchLoggingOptions: { enabled: true, logGroupName: logGroup.logGroupName, logStreamName: logStream.logStreamName },
        processingConfiguration: {
          enabled: true,
          processors: [
            {
              type: 'Lambda',
              parameters: [
                { parameterName: 'LambdaArn', parameterValue: this.processor.functionArn },
                { parameterName: 'NumberOfRetries', parameterValue: '3' },
                { parameterName: 'BufferSizeInMBs', parameterValue: '1' },
                { parameterName: 'BufferIntervalInSeconds', parameterValue: '60' },
              ],
            },
          ],
        },
        ...(requestDay && { dynamicPartitioningConfiguration: { enabled: true, retryOptions: { durationInSeconds: 300 } } }),
      },
    });
    // Firehose checks its role when the stream is created. For its buffer encryption it creates a key grant as the deployer (the key policy leaves that to IAM).
    stream.node.addDependency(role);
    return stream;
  }

  /** One subscription filter per front door log group: only the request-log lines go to Firehose. */
  private subscribe(sources: readonly RequestLogSource[]) {
    const stack = Stack.of(this);
    const streamArn = this.deliveryStream.attrArn;
    // CloudWatch Logs assumes this role to put records; China's regional principal and the global form both appear in AWS examples (unverified which China requires).
    const role = new iam.Role(this, 'SubscriptionRole', {
      assumedBy: new iam.PrincipalWithConditions(new iam.CompositePrincipal(cloudWatchLogsPrincipal(stack.region), new iam.ServicePrincipal('logs.amazonaws.com')), {
        // The form AWS documents for subscription roles: CloudWatch Logs of this account and region.
        StringLike: { 'aws:SourceArn': stack.formatArn({ service: 'logs', resource: '*' }) },
      }),
      description: 'cn-llm-kit usage ledger: CloudWatch Logs puts request-log lines into the ledger Firehose',
    });
    const policy = new iam.Policy(this, 'SubscriptionPolicy', { statements: [new iam.PolicyStatement({ actions: ['firehose:PutRecord', 'firehose:PutRecordBatch'], resources: [streamArn] })] });
    policy.attachToRole(role);
    for (const source of sources) {
      const filter = new logs.CfnSubscriptionFilter(this, `Subscription-${source.name}`, {
        logGroupName: source.logGroup.logGroupName,
        filterPattern: REQUEST_LOG_FILTER,
        destinationArn: streamArn,
        roleArn: role.roleArn,
      });
      // CloudWatch Logs tests the role when the filter is created: the policy must exist by then.
      filter.node.addDependency(policy);
    }
  }

  private createReaderPolicy(props: UsageLedgerProps): iam.ManagedPolicy {
    const stack = Stack.of(this);
    const policy = new iam.ManagedPolicy(this, 'ReaderPolicy', {
      description: 'Read the usage ledger: npm run usage (S3) and Athena queries in the ledger workgroup',
      statements: [
        new iam.PolicyStatement({ actions: ['s3:ListBucket'], resources: [this.bucket.bucketArn], conditions: { StringLike: { 's3:prefix': [`${LEDGER_PREFIX}*`, `${ATHENA_RESULTS_PREFIX}*`] } } }),
        new iam.PolicyStatement({ actions: ['s3:GetObject'], resources: [this.bucket.arnForObjects(`${LEDGER_PREFIX}*`), this.bucket.arnForObjects(`${ATHENA_RESULTS_PREFIX}*`)] }),
        // Athena writes the results of a reader's query as that reader.
        new iam.PolicyStatement({ actions: ['s3:GetBucketLocation'], resources: [this.bucket.bucketArn] }),
        new iam.PolicyStatement({ actions: ['s3:PutObject', 's3:AbortMultipartUpload'], resources: [this.bucket.arnForObjects(`${ATHENA_RESULTS_PREFIX}*`)] }),
        new iam.PolicyStatement({ actions: ['kms:Decrypt', 'kms:GenerateDataKey'], resources: [this.key.keyArn], conditions: { StringEquals: { 'kms:ViaService': s3ViaService(stack.region) } } }),
        new iam.PolicyStatement({
          actions: ['athena:StartQueryExecution', 'athena:GetQueryExecution', 'athena:GetQueryResults', 'athena:StopQueryExecution', 'athena:GetWorkGroup', 'athena:ListNamedQueries', 'athena:GetNamedQuery'],
          resources: [stack.formatArn({ service: 'athena', resource: 'workgroup', resourceName: props.workGroupName })],
        }),
        new iam.PolicyStatement({
          actions: ['glue:GetDatabase', 'glue:GetTable', 'glue:GetPartitions'],
          resources: [stack.formatArn({ service: 'glue', resource: 'catalog' }), stack.formatArn({ service: 'glue', resource: 'database', resourceName: props.databaseName }), stack.formatArn({ service: 'glue', resource: 'table', resourceName: `${props.databaseName}/${props.tableName}` })],
        }),
      ],
    });
    const bucketId = stack.getLogicalId(this.bucket.node.defaultChild as s3.CfnBucket);
    Validations.of(policy).acknowledge({ id: `AwsSolutions-IAM5[Resource::<${bucketId}.Arn>/${LEDGER_PREFIX}*]`, reason: 'Firehose names each object itself; a reader reads every ledger object of the days it asks for, so only the prefix can be named.' });
    Validations.of(policy).acknowledge({ id: `AwsSolutions-IAM5[Resource::<${bucketId}.Arn>/${ATHENA_RESULTS_PREFIX}*]`, reason: 'Athena names each object itself (the query id) when it writes a query\'s results for the reader, inside the workgroup\'s result prefix.' });
    return policy;
  }
}
