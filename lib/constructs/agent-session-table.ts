import { RemovalPolicy } from 'aws-cdk-lib';
import * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as kms from 'aws-cdk-lib/aws-kms';
import { Construct } from 'constructs';

/** The table's keys as the agent runtime reads and writes them: one item per session, expired by DynamoDB TTL. */
export const SESSION_TABLE_SCHEMA = { partitionKey: 'sessionId', ttlAttribute: 'expiresAt' } as const;

export interface AgentSessionTableProps {
  readonly key: kms.IKey;
  /** The role the agent container runs as: the only principal granted access. */
  readonly runtimeRole: iam.IRole;
  readonly retain: boolean;
}

/**
 * Session memory of the agents: AgentCore Memory is not offered in the China regions, so the
 * conversation of a session lives here (KMS-encrypted with the kit's key, point-in-time recovery,
 * items expire through TTL).
 */
export class AgentSessionTable extends Construct {
  public readonly table: dynamodb.Table;

  constructor(scope: Construct, id: string, props: AgentSessionTableProps) {
    super(scope, id);
    this.table = new dynamodb.Table(this, 'Table', {
      partitionKey: { name: SESSION_TABLE_SCHEMA.partitionKey, type: dynamodb.AttributeType.STRING },
      timeToLiveAttribute: SESSION_TABLE_SCHEMA.ttlAttribute,
      billingMode: dynamodb.BillingMode.PAY_PER_REQUEST,
      encryption: dynamodb.TableEncryption.CUSTOMER_MANAGED,
      encryptionKey: props.key,
      pointInTimeRecoverySpecification: { pointInTimeRecoveryEnabled: true },
      removalPolicy: props.retain ? RemovalPolicy.RETAIN : RemovalPolicy.DESTROY,
    });
    this.table.grant(props.runtimeRole, 'dynamodb:GetItem', 'dynamodb:PutItem', 'dynamodb:UpdateItem', 'dynamodb:DeleteItem');
    // The table is encrypted with the kit's key: reads and writes need it (grant() adds no KMS permission); no wildcard actions.
    props.key.grant(props.runtimeRole, 'kms:Decrypt', 'kms:Encrypt', 'kms:GenerateDataKey');
  }
}
