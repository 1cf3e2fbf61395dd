import { Duration, RemovalPolicy } from 'aws-cdk-lib';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as kms from 'aws-cdk-lib/aws-kms';
import { Construct } from 'constructs';
import { LIMITS_PARTITION } from '../../runtime/quota/limit-table';

export interface QuotaStoreProps {
  readonly tableName: string;
  /** The kit key: encrypts the table (limits and usage per identity are business data). */
  readonly key: kms.IKey;
  /** Groups with a configured monthly budget (tokens or money): one BudgetUsedPercent alarm each. */
  readonly budgetGroups: readonly string[];
  /** Share of a monthly budget that raises a group's alarm. */
  readonly budgetAlarmPercent: number;
}

/**
 * The quota counters every front door shares: one DynamoDB table (KMS, point-in-time recovery,
 * counters expire by TTL), grants for exactly the calls a gateway host makes, and the alarms on
 * budgets used and on the store failing.
 */
export class QuotaStore extends Construct {
  public readonly table: dynamodb.Table;

  constructor(scope: Construct, id: string, private readonly props: QuotaStoreProps) {
    super(scope, id);
    this.table = new dynamodb.Table(this, 'Table', {
      tableName: props.tableName,
      partitionKey: { name: 'pk', type: dynamodb.AttributeType.STRING },
      sortKey: { name: 'sk', type: dynamodb.AttributeType.STRING },
      billingMode: dynamodb.BillingMode.PAY_PER_REQUEST,
      encryption: dynamodb.TableEncryption.CUSTOMER_MANAGED,
      encryptionKey: props.key,
      pointInTimeRecoverySpecification: { pointInTimeRecoveryEnabled: true },
      timeToLiveAttribute: 'expiresAt',
      // Limits set with npm run api-keys live here too: keep them when the stack goes.
      removalPolicy: RemovalPolicy.RETAIN,
    });

    for (const group of props.budgetGroups) {
      new cloudwatch.Alarm(this, `Budget-${group}`, {
        alarmDescription: `Group ${group} has used ${props.budgetAlarmPercent}% or more of a monthly budget (quotas)`,
        metric: new cloudwatch.Metric({ namespace: 'cn-llm-kit/Gateway', metricName: 'BudgetUsedPercent', dimensionsMap: { Group: group }, statistic: 'Maximum', period: Duration.minutes(5) }),
        threshold: props.budgetAlarmPercent,
        evaluationPeriods: 1,
        comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
        treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
      });
    }
    new cloudwatch.Alarm(this, 'StoreFailures', {
      alarmDescription: 'The quota counter table failed or was slow: requests were let through unchecked (onStoreFailure open) or refused with 503 (closed)',
      metric: new cloudwatch.Metric({ namespace: 'cn-llm-kit/Gateway', metricName: 'QuotaStoreFailures', statistic: 'Sum', period: Duration.minutes(5) }),
      threshold: 0,
      evaluationPeriods: 1,
      comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
      treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
    });
  }

  /**
   * What a gateway host (the Lambda, a door task) does with the table and nothing more: change and
   * read counter items (keys `c#...`), query the limits partition. No Scan, Put or Delete.
   */
  grantCounters(role: iam.IRole): void {
    role.addToPrincipalPolicy(
      new iam.PolicyStatement({
        actions: ['dynamodb:UpdateItem', 'dynamodb:GetItem'],
        resources: [this.table.tableArn],
        conditions: { 'ForAllValues:StringLike': { 'dynamodb:LeadingKeys': ['c#*'] } },
      }),
    );
    role.addToPrincipalPolicy(
      new iam.PolicyStatement({
        actions: ['dynamodb:Query'],
        resources: [this.table.tableArn],
        conditions: { 'ForAllValues:StringEquals': { 'dynamodb:LeadingKeys': [LIMITS_PARTITION] } },
      }),
    );
    // A table encrypted with a customer managed key: DynamoDB uses the key on the caller's behalf.
    this.props.key.grant(role, 'kms:Decrypt', 'kms:Encrypt', 'kms:GenerateDataKey');
  }
}
